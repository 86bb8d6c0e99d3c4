package githook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The example of GitHub's "Validating webhook deliveries" documentation.
func TestSignMatchesGitHubsExample(t *testing.T) {
	got := Sign([]byte("Hello, World!"), "It's a Secret to Everybody")
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSend(t *testing.T) {
	const secret = "s3cret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		var p Push
		switch {
		case r.Header.Get("X-GitHub-Event") != "push" || r.Header.Get("Content-Type") != "application/json":
			http.Error(w, "wrong headers", http.StatusBadRequest)
		case r.Header.Get("X-Hub-Signature-256") != Sign(body, secret):
			http.Error(w, "bad signature", http.StatusBadRequest)
		case json.Unmarshal(body, &p) != nil || p.After != "abc" || p.Ref != "refs/heads/main":
			http.Error(w, "bad payload "+string(body), http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	push := Push{Ref: "refs/heads/main", Before: "000", After: "abc"}
	for _, tc := range []struct {
		secret string
		want   int
	}{{secret, http.StatusOK}, {"wrong", http.StatusBadRequest}} {
		resp, err := Send(context.Background(), srv.URL+"/hook/x", "push", push, tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != tc.want {
			t.Errorf("secret %q: status %d (%s), want %d", tc.secret, resp.Status, resp.Body, tc.want)
		}
	}
}
