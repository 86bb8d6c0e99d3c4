// Package oidclogin signs users in with OpenID Connect when Cloudflare
// Access does not put its assertion on the request (remote users reach
// the app through WARP and the tunnel at L4; the header only exists when
// Cloudflare's gateway inspects the traffic).
//
// The flow is the authorization code flow with PKCE (S256) and a nonce,
// against Cloudflare Access as the OpenID provider (any provider works):
//
//   - /auth/login?next=/path keeps a random state, the PKCE verifier, the
//     nonce and the page to return to in a short-lived signed cookie, and
//     redirects to the provider;
//   - /auth/callback checks the state against that cookie (once: a state
//     is refused the second time on this replica, and the provider refuses
//     a code used twice), exchanges the code with the verifier, verifies
//     the ID token (signature by the provider's keys, issuer, audience =
//     client id, expiry, nonce), and sets the session cookie;
//   - POST /auth/logout clears it.
//
// Both cookies are HttpOnly, SameSite=Lax, Secure behind TLS, and signed
// with HMAC-SHA256 under a key of at least 32 bytes that every replica
// shares (so a session made on one is valid on all); a tampered or
// expired cookie is refused.
package oidclogin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/homelab-gitops/homelab/src/internal/access"
)

// Cookie names.
const (
	SessionCookie = "fitness_session"
	flowCookie    = "fitness_login"
)

// Defaults and bounds.
const (
	DefaultSessionTTL = 12 * time.Hour
	// flowTTL bounds the time between the redirect to the provider and
	// the callback.
	flowTTL = 10 * time.Minute
	// MinKeyBytes is the shortest session key accepted.
	MinKeyBytes = 32
)

// Config configures a Login.
type Config struct {
	// Issuer is the provider's issuer URL; its discovery document is read
	// from Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this app's callback, https://<host>/auth/callback.
	RedirectURL string
	// Key signs the cookies (at least MinKeyBytes; the same on every
	// replica).
	Key []byte
	// SessionTTL is how long a session lasts (DefaultSessionTTL).
	SessionTTL time.Duration
	// HTTPClient talks to the provider (default: 10 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Login serves /auth/ and authenticates requests by their session cookie.
type Login struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// used holds the states already redeemed here, until they expire.
	used map[string]time.Time
}

// New checks cfg. The provider's discovery document is read on the first
// sign-in, so that the app starts while the provider is unreachable.
func New(cfg Config) (*Login, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "":
		return nil, errors.New("oidc login: issuer, client id and redirect url are required")
	case len(cfg.Key) < MinKeyBytes:
		return nil, fmt.Errorf("oidc login: the session key has %d bytes, at least %d are required", len(cfg.Key), MinKeyBytes)
	}
	if u, err := url.Parse(cfg.RedirectURL); err != nil || u.Path != "/auth/callback" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("oidc login: redirect url %q must be http(s)://<host>/auth/callback", cfg.RedirectURL)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Login{cfg: cfg, log: cfg.Logger.With("component", "oidc-login"), used: map[string]time.Time{}}, nil
}

// discover reads the provider's configuration once it answers.
func (l *Login) discover(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.provider != nil {
		return nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, l.cfg.HTTPClient), l.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discover the openid provider %s: %w", l.cfg.Issuer, err)
	}
	l.provider = p
	l.oauth = oauth2.Config{ClientID: l.cfg.ClientID, ClientSecret: l.cfg.ClientSecret, RedirectURL: l.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	// The key set outlives this request: its fetches use their own context.
	l.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), l.cfg.HTTPClient),
		&oidc.Config{ClientID: l.cfg.ClientID, Now: l.cfg.Now})
	return nil
}

// LoginURL is where a page sends a request without a session.
func (l *Login) LoginURL(next string) string {
	return "/auth/login?next=" + url.QueryEscape(safeNext(next))
}

// safeNext keeps only a path on this site: never another host.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/auth/") {
		return "/"
	}
	return next
}

// ServeHTTP serves /auth/login, /auth/callback and /auth/logout.
func (l *Login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/auth/login" && r.Method == http.MethodGet:
		l.login(w, r)
	case r.URL.Path == "/auth/callback" && r.Method == http.MethodGet:
		l.callback(w, r)
	case r.URL.Path == "/auth/logout" && r.Method == http.MethodPost:
		l.logout(w, r)
	case r.URL.Path == "/auth/signed-out" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
			`<title>Signed out · Fitness</title><link rel="stylesheet" href="/static/app.css"><main><h1>Signed out</h1>` +
			`<p class="card"><a href="/auth/login" id="sign-in">Sign in again</a></p></main></html>`))
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// flow is what the login cookie keeps between the redirect and the
// callback.
type flow struct {
	State    string    `json:"s"`
	Verifier string    `json:"v"`
	Nonce    string    `json:"n"`
	Next     string    `json:"r"`
	Expires  time.Time `json:"e"`
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (l *Login) login(w http.ResponseWriter, r *http.Request) {
	if err := l.discover(r.Context()); err != nil {
		l.log.Error("sign-in unavailable", "error", err.Error())
		http.Error(w, "sign-in is unavailable right now: the identity provider does not answer; try again in a minute", http.StatusServiceUnavailable)
		return
	}
	f := flow{State: random(), Verifier: oauth2.GenerateVerifier(), Nonce: random(), Next: safeNext(r.URL.Query().Get("next")),
		Expires: l.cfg.Now().Add(flowTTL)}
	l.setCookie(w, r, flowCookie, f, flowTTL)
	http.Redirect(w, r, l.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), http.StatusFound)
}

// errSignIn is answered for every refused callback; the log says why.
var errSignIn = errors.New("sign-in failed")

func (l *Login) callback(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, why string, err error) {
		l.log.Warn("sign-in refused", "reason", why, "error", fmt.Sprint(err))
		clearCookie(w, r, flowCookie)
		http.Error(w, errSignIn.Error()+": "+why+"; start again from the app", status)
	}
	var f flow
	if err := l.readCookie(r, flowCookie, &f); err != nil {
		refuse(http.StatusBadRequest, "no sign-in in progress", err)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		refuse(http.StatusForbidden, "the identity provider refused", errors.New(e+": "+q.Get("error_description")))
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		refuse(http.StatusBadRequest, "the state does not match", nil)
		return
	}
	if !l.redeem(f.State, f.Expires) {
		refuse(http.StatusBadRequest, "this sign-in was already used", nil)
		return
	}
	if err := l.discover(r.Context()); err != nil {
		refuse(http.StatusServiceUnavailable, "the identity provider does not answer", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), l.cfg.HTTPClient)
	tok, err := l.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		refuse(http.StatusForbidden, "the code was not accepted", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		refuse(http.StatusForbidden, "no ID token", nil)
		return
	}
	idt, err := l.verifier.Verify(ctx, raw)
	if err != nil {
		refuse(http.StatusForbidden, "the ID token does not verify", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		refuse(http.StatusForbidden, "the ID token's nonce does not match", nil)
		return
	}
	var c struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&c); err != nil {
		refuse(http.StatusForbidden, "unreadable claims", err)
		return
	}
	if c.Verified != nil && !*c.Verified {
		refuse(http.StatusForbidden, "the email address is not verified", nil)
		return
	}
	s := session{Subject: idt.Subject, Email: strings.ToLower(c.Email), Expires: l.cfg.Now().Add(l.cfg.SessionTTL)}
	clearCookie(w, r, flowCookie)
	l.setCookie(w, r, SessionCookie, s, l.cfg.SessionTTL)
	l.log.Info("signed in", "user", s.userID())
	http.Redirect(w, r, f.Next, http.StatusFound)
}

// redeem marks a state used; false when it was already.
func (l *Login) redeem(state string, expires time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	for s, exp := range l.used {
		if now.After(exp) {
			delete(l.used, s)
		}
	}
	if _, ok := l.used[state]; ok {
		return false
	}
	l.used[state] = expires
	return true
}

func (l *Login) logout(w http.ResponseWriter, r *http.Request) {
	clearCookie(w, r, SessionCookie)
	http.Redirect(w, r, "/auth/signed-out", http.StatusSeeOther)
}

// session is the signed-in user, in the session cookie.
type session struct {
	Subject string    `json:"sub"`
	Email   string    `json:"email,omitempty"`
	Expires time.Time `json:"exp"`
}

func (s session) userID() string {
	if s.Email != "" {
		return s.Email
	}
	return s.Subject
}

// ErrSession wraps every reason a session cookie is refused.
var ErrSession = errors.New("invalid session")

// Authenticate identifies a request by its session cookie: an
// access.ErrNoToken without one or with an expired one (sign in again), an
// ErrSession for a tampered one.
func (l *Login) Authenticate(r *http.Request) (access.Identity, error) {
	if _, err := r.Cookie(SessionCookie); err != nil {
		return access.Identity{}, access.ErrNoToken
	}
	var s session
	if err := l.readCookie(r, SessionCookie, &s); err != nil {
		return access.Identity{}, err
	}
	if s.userID() == "" {
		return access.Identity{}, fmt.Errorf("%w: no user", ErrSession)
	}
	return access.Identity{UserID: s.userID(), Email: s.Email, Subject: s.Subject}, nil
}

// setCookie signs v into the cookie name.
func (l *Login) setCookie(w http.ResponseWriter, r *http.Request, name string, v any, ttl time.Duration) {
	data, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(data)
	http.SetCookie(w, &http.Cookie{Name: name, Value: payload + "." + l.sign(name, payload), Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// readCookie checks the signature and expiry of the cookie name and
// decodes it into v (a *flow or *session).
func (l *Login) readCookie(r *http.Request, name string, v any) error {
	c, err := r.Cookie(name)
	if err != nil {
		return fmt.Errorf("%w: no %s cookie", ErrSession, name)
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(l.sign(name, payload))) {
		return fmt.Errorf("%w: %s cookie signature does not verify", ErrSession, name)
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return fmt.Errorf("%w: %s cookie: %v", ErrSession, name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s cookie: %v", ErrSession, name, err)
	}
	var exp time.Time
	switch x := v.(type) {
	case *flow:
		exp = x.Expires
	case *session:
		exp = x.Expires
	}
	if !l.cfg.Now().Before(exp) {
		// An expired session is no session: sign in again.
		return fmt.Errorf("%w: %s cookie expired at %s", access.ErrNoToken, name, exp.UTC().Format(time.RFC3339))
	}
	return nil
}

// sign is the cookie's HMAC; the name is signed too, so that one cookie
// cannot be passed off as the other.
func (l *Login) sign(name, payload string) string {
	m := hmac.New(sha256.New, l.cfg.Key)
	m.Write([]byte(name + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// Chain authenticates by the Cloudflare Access header when the request has
// one (an invalid one is refused, never passed to the next), else by the
// session cookie.
type Chain struct {
	Header  access.Authenticator
	Session access.Authenticator
}

// Authenticate implements access.Authenticator.
func (c Chain) Authenticate(r *http.Request) (access.Identity, error) {
	if r.Header.Get(access.Header) != "" {
		return c.Header.Authenticate(r)
	}
	return c.Session.Authenticate(r)
}
