package oidclogin_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/oidclogin"
	"github.com/homelab-gitops/homelab/src/internal/testenv/oidctest"
)

// headerOnly stands for the Cloudflare Access verifier: it accepts the
// assertion "good" only.
type headerOnly struct{}

func (headerOnly) Authenticate(r *http.Request) (access.Identity, error) {
	if r.Header.Get(access.Header) == "good" {
		return access.Identity{UserID: "header@example.com"}, nil
	}
	return access.Identity{}, errors.New("bad assertion")
}

type app struct {
	srv      *httptest.Server
	provider *oidctest.Provider
	login    *oidclogin.Login
	now      time.Time
}

// newApp serves a page that names its user behind the login, as the web
// app mounts it, and a provider that signs users in.
func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{now: time.Now()}
	mux := http.NewServeMux()
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	a.provider = oidctest.Start(t, a.srv.URL+"/auth/callback")
	var err error
	a.login, err = oidclogin.New(oidclogin.Config{Issuer: a.provider.Issuer(), ClientID: a.provider.ClientID, ClientSecret: a.provider.ClientSecret,
		RedirectURL: a.srv.URL + "/auth/callback", Key: []byte(strings.Repeat("k", 32)), SessionTTL: time.Hour,
		Now: func() time.Time { return a.now }})
	if err != nil {
		t.Fatal(err)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := access.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id.UserID)
	})
	mux.Handle("/", access.MiddlewareWithLogin(oidclogin.Chain{Header: headerOnly{}, Session: a.login}, nil, a.login.LoginURL)(page))
	mux.Handle("/auth/", http.NewCrossOriginProtection().Handler(a.login))
	return a
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func TestSignIn(t *testing.T) {
	a := newApp(t)
	c := client()
	res, body := get(t, c, a.srv.URL+"/history?exercise=deadlift")
	if res.StatusCode != http.StatusOK || body != "hello lifter@example.com" || res.Request.URL.RequestURI() != "/history?exercise=deadlift" {
		t.Fatalf("sign-in through the provider: %d %q at %s", res.StatusCode, body, res.Request.URL)
	}
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(a.srv.URL)) {
		if ck.Name == oidclogin.SessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}

	t.Run("session on another request", func(t *testing.T) {
		plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/progress", nil)
		req.AddCookie(session)
		res, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("with the session cookie: %d", res.StatusCode)
		}
	})
	t.Run("tampered cookie", func(t *testing.T) {
		payload, sig, _ := strings.Cut(session.Value, ".")
		data, _ := base64.RawURLEncoding.DecodeString(payload)
		forged := strings.Replace(string(data), "lifter@example.com", "admin@example.com", 1)
		for name, value := range map[string]string{
			"other user":    base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig,
			"no signature":  payload,
			"bad signature": payload + "." + strings.Repeat("A", len(sig)),
		} {
			req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
			req.AddCookie(&http.Cookie{Name: oidclogin.SessionCookie, Value: value})
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", name, res.StatusCode)
			}
		}
	})
	t.Run("expired session", func(t *testing.T) {
		defer func(t0 time.Time) { a.now = t0 }(a.now)
		a.now = a.now.Add(2 * time.Hour)
		req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v1/plan", nil)
		req.AddCookie(session)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("expired session on the API: %d, want 401", res.StatusCode)
		}
	})
	t.Run("the header still works and a bad one is refused", func(t *testing.T) {
		for assertion, want := range map[string]int{"good": http.StatusOK, "forged": http.StatusForbidden} {
			req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/", nil)
			req.Header.Set(access.Header, assertion)
			req.AddCookie(session) // a valid session does not rescue a bad header
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("header %q: %d, want %d", assertion, res.StatusCode, want)
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/auth/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if res, err := c.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site logout: %v %v", res.StatusCode, err)
		}
		req, _ = http.NewRequest(http.MethodPost, a.srv.URL+"/auth/logout", nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, ck := range c.Jar.Cookies(mustURL(a.srv.URL)) {
			if ck.Name == oidclogin.SessionCookie {
				t.Errorf("session cookie kept after logout")
			}
		}
	})
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// noRedirect follows redirects by hand, so a test can stop at the callback.
func noRedirect() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// callbackURL runs the flow up to the provider's redirect to the callback.
func callbackURL(t *testing.T, a *app, c *http.Client) string {
	t.Helper()
	res, _ := get(t, c, a.srv.URL+"/auth/login?next=/history")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login: %d", res.StatusCode)
	}
	res, body := get(t, c, res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound {
		t.Fatalf("provider: %d %s", res.StatusCode, body)
	}
	return res.Header.Get("Location")
}

func TestSignInRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(p *oidctest.Provider)
		want  int
	}{
		{"expired ID token", func(p *oidctest.Provider) { p.SetLifetime(-time.Minute) }, http.StatusForbidden},
		{"wrong audience", func(p *oidctest.Provider) { p.SetAudience("another-app") }, http.StatusForbidden},
		{"signed by another key", func(p *oidctest.Provider) { p.SetBadSignature(true) }, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			tt.setup(a.provider)
			c := noRedirect()
			res, body := get(t, c, callbackURL(t, a, c))
			if res.StatusCode != tt.want || hasSession(res) {
				t.Errorf("callback: %d %q, session set %v", res.StatusCode, body, hasSession(res))
			}
		})
	}

	t.Run("replayed state", func(t *testing.T) {
		a := newApp(t)
		c := noRedirect()
		cb := callbackURL(t, a, c)
		flowCookies := c.Jar.Cookies(mustURL(a.srv.URL))
		if res, _ := get(t, c, cb); res.StatusCode != http.StatusFound || !hasSession(res) {
			t.Fatalf("first callback: %d", res.StatusCode)
		}
		// The same callback again, with the login cookie of the first.
		req, _ := http.NewRequest(http.MethodGet, cb, nil)
		for _, ck := range flowCookies {
			req.AddCookie(ck)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || hasSession(res) || a.provider.Exchanged() != 1 {
			t.Errorf("replayed callback: %d, session %v, %d codes exchanged", res.StatusCode, hasSession(res), a.provider.Exchanged())
		}
	})
	t.Run("state from another browser", func(t *testing.T) {
		a := newApp(t)
		victim, attacker := noRedirect(), noRedirect()
		cb := callbackURL(t, a, attacker)
		get(t, victim, a.srv.URL+"/auth/login?next=/")
		if res, _ := get(t, victim, cb); res.StatusCode != http.StatusBadRequest || hasSession(res) {
			t.Errorf("callback with another browser's state: %d", res.StatusCode)
		}
	})
	t.Run("no sign-in in progress", func(t *testing.T) {
		a := newApp(t)
		if res, _ := get(t, noRedirect(), a.srv.URL+"/auth/callback?code=x&state=y"); res.StatusCode != http.StatusBadRequest {
			t.Errorf("callback without a login: %d", res.StatusCode)
		}
	})
	t.Run("next stays on this site", func(t *testing.T) {
		a := newApp(t)
		for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example"} {
			if got := a.login.LoginURL(next); got != "/auth/login?next=%2F" {
				t.Errorf("LoginURL(%q) = %q", next, got)
			}
		}
	})
}

func hasSession(res *http.Response) bool {
	for _, ck := range res.Cookies() {
		if ck.Name == oidclogin.SessionCookie && ck.MaxAge > 0 {
			return true
		}
	}
	return false
}

func TestNewRefusesBadConfig(t *testing.T) {
	ok := oidclogin.Config{Issuer: "https://team.cloudflareaccess.com", ClientID: "id", RedirectURL: "https://fit.example/auth/callback", Key: make([]byte, 32)}
	if _, err := oidclogin.New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*oidclogin.Config){
		"short key":    func(c *oidclogin.Config) { c.Key = make([]byte, 16) },
		"no issuer":    func(c *oidclogin.Config) { c.Issuer = "" },
		"bad redirect": func(c *oidclogin.Config) { c.RedirectURL = "https://fit.example/elsewhere" },
	} {
		c := ok
		mut(&c)
		if _, err := oidclogin.New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
