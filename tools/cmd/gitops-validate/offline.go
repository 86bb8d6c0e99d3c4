package main

import (
	"errors"
	"net/http"
	"os"
)

// errOffline is what any HTTP request of the process gets.
var errOffline = errors.New("network access is disabled: gitops-validate works offline")

type offlineTransport struct{}

func (offlineTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errOffline }

// goOffline keeps the process off the network. kustomize fetches a remote
// resource with an http.Client on the default transport and clones a
// remote base with git; both are refused here (git may still use local
// repositories, which --base needs), so such a Kustomization is reported
// as not available offline instead of reaching out. The one exception is
// chart fetching (--fetch-charts): package chartfetch makes its requests
// on a transport of its own, never on the default one.
func goOffline() error {
	http.DefaultTransport = offlineTransport{}
	return os.Setenv("GIT_ALLOW_PROTOCOL", "file")
}
