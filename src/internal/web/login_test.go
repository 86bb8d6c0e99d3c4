package web

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/oidclogin"
	"github.com/homelab-gitops/homelab/src/internal/testenv/oidctest"
)

// With OpenID Connect sign-in, a page without a token goes to the sign-in,
// the API still answers 401, and a signed-in user's pages offer sign-out.
func TestLoginRoutes(t *testing.T) {
	var srv *Server
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(w, r) }))
	defer ts.Close()
	p := oidctest.Start(t, ts.URL+"/auth/callback")
	login, err := oidclogin.New(oidclogin.Config{Issuer: p.Issuer(), ClientID: p.ClientID, ClientSecret: p.ClientSecret,
		RedirectURL: ts.URL + "/auth/callback", Key: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	srv, err = New(Options{Publisher: &fakePublisher{}, Reader: newFakeReader(), Auth: oidclogin.Chain{Header: access.Dev{User: "header@example.com"}, Session: login},
		Login: login, Registry: prometheus.NewRegistry(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := plain.Get(ts.URL + "/history?exercise=deadlift")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/login?next=%2Fhistory%3Fexercise%3Ddeadlift" {
		t.Errorf("page without a token: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, err = plain.Get(ts.URL + "/api/v1/workouts"); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("api without a token: %v %v", res.StatusCode, err)
	}
	c := client(t)
	res, err = c.Get(ts.URL + "/history")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(res)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "lifter@example.com") || !strings.Contains(body, `id="sign-out"`) {
		t.Errorf("signed in: %d\n%s", res.StatusCode, body)
	}
}

func client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
