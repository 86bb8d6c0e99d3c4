package render

import "testing"

func TestRemoteResource(t *testing.T) {
	tests := map[string]string{
		"accumulating resources from 'https://example.com/crd.yaml': Get":                                                       "https://example.com/crd.yaml",
		"accumulating resources from '../web': recursed: accumulating resources from 'github.com/org/repo//deploy?ref=v1': git": "github.com/org/repo//deploy?ref=v1",
		"accumulating resources from 'git@github.com:org/repo.git': x":                                                          "git@github.com:org/repo.git",
		"accumulating resources from 'ssh://git@host/org/repo': x":                                                              "ssh://git@host/org/repo",
		// Local paths, including ones with dots, are not remote.
		"accumulating resources from 'deployment.yaml': missing": "",
		"accumulating resources from '../base/config.d/x': no":   "",
		"accumulating resources from 'app.yaml/nested': no":      "",
		"some other error": "",
	}
	for msg, want := range tests {
		if got := remoteResource(msg); got != want {
			t.Errorf("remoteResource(%q) = %q, want %q", msg, got, want)
		}
	}
}
