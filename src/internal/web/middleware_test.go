package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// setSecurityHeaders writes the header map directly: the names must
// already be in canonical form or lookups would miss them.
func TestSecurityHeaderNamesAreCanonical(t *testing.T) {
	for _, kv := range append(pageHeaders[:], apiHeaders[:]...) {
		if got := http.CanonicalHeaderKey(kv.name); got != kv.name {
			t.Errorf("header %q is not canonical (%q)", kv.name, got)
		}
		if len(kv.value) != 1 || cap(kv.value) != 1 {
			t.Errorf("header %q: value %q has capacity %d, want one element of capacity 1 (an Add must not write into the shared array)", kv.name, kv.value, cap(kv.value))
		}
	}
	if got := http.CanonicalHeaderKey(RequestIDHeader); got != RequestIDHeader {
		t.Errorf("header %q is not canonical (%q)", RequestIDHeader, got)
	}
}

// A JSON answer carries the API's security headers and none of the
// document ones; every other answer (pages, error pages, redirects, the
// specification, files) carries the pages' full set.
func TestSecurityHeadersByContentType(t *testing.T) {
	e := newEnv(t, nil)
	api := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Cache-Control":                "no-store",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	pageOnly := []string{"Content-Security-Policy", "Strict-Transport-Security", "X-Frame-Options",
		"Cross-Origin-Opener-Policy", "Referrer-Policy", "Permissions-Policy"}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		json   bool
	}{
		{"confirmed POST", postJSON(validBody, nil), http.StatusAccepted, true},
		{"invalid POST", postJSON(`{"exercise":`, nil), http.StatusBadRequest, true},
		{"API list", httptest.NewRequest(http.MethodGet, "/api/v1/workouts", nil), http.StatusOK, true},
		{"API 404", httptest.NewRequest(http.MethodGet, "/api/v1/nothing", nil), http.StatusNotFound, true},
		{"API 405", httptest.NewRequest(http.MethodPatch, "/api/v1/workouts", nil), http.StatusMethodNotAllowed, true},
		{"API spec (YAML)", httptest.NewRequest(http.MethodGet, "/api/v1/openapi.yaml", nil), http.StatusOK, false},
		{"page", httptest.NewRequest(http.MethodGet, "/history", nil), http.StatusOK, false},
		{"page 404", httptest.NewRequest(http.MethodGet, "/no-such-page", nil), http.StatusNotFound, false},
		{"health probe", httptest.NewRequest(http.MethodGet, "/healthz", nil), http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.req)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if isJSON := res.Header.Get("Content-Type") == jsonType; isJSON != tt.json {
				t.Fatalf("Content-Type %q", res.Header.Get("Content-Type"))
			}
			for k, v := range api {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range pageOnly {
				if got := res.Header.Get(k); (got != "") != !tt.json {
					t.Errorf("%s = %q on a JSON answer: %v", k, got, tt.json)
				}
			}
			if !tt.json && res.Header.Get("Content-Security-Policy") != ContentSecurityPolicy {
				t.Errorf("CSP = %q", res.Header.Get("Content-Security-Policy"))
			}
			if res.Header.Get(RequestIDHeader) == "" {
				t.Error("no request id")
			}
		})
	}
	// A handler's own value wins over the default: static files are
	// cacheable, and still carry the rest of the pages' set.
	res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/static/app.css", nil))
	if got := res.Header.Get("Cache-Control"); got != "public, max-age=3600" {
		t.Errorf("static Cache-Control = %q", got)
	}
	if res.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("static file without the pages' headers: %v", res.Header)
	}
}

// TestRequestIDs: a request without an id gets one that is well formed and
// differs from every other request's, and from another server's; a
// well-formed incoming id is kept.
func TestRequestIDs(t *testing.T) {
	a, err := newRequestIDs()
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRequestIDs()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range []*requestIDs{a, b} {
		for range 1000 {
			id := g.next(httptest.NewRequest(http.MethodGet, "/", nil))
			if !validRequestID(id) {
				t.Fatalf("request id %q is not well formed", id)
			}
			if seen[id] {
				t.Fatalf("request id %q made twice", id)
			}
			seen[id] = true
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set(RequestIDHeader, "from-the-proxy.1")
	if got := a.next(r); got != "from-the-proxy.1" {
		t.Errorf("incoming id replaced by %q", got)
	}
}
