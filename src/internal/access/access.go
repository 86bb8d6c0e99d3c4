// Package access identifies the user of a request from Cloudflare Access.
//
// Cloudflare Access puts a signed JWT in the Cf-Access-Jwt-Assertion header
// of every request it lets through. Verifier checks it: an RS256 signature
// by one of the team's keys (fetched from
// https://<team>.cloudflareaccess.com/cdn-cgi/access/certs, cached, and
// fetched again when a token names an unknown key id), the issuer, the
// application's audience tag, and exp/nbf with a bounded clock skew. Any
// other algorithm (none, HS256 keyed with the public key, ...) is refused.
//
// Dev is a fixed identity for local development only; the web app enables
// it behind an explicit flag and says so loudly.
package access

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Header is the request header Cloudflare Access sets.
const Header = "Cf-Access-Jwt-Assertion"

// Skew bounds.
const (
	DefaultSkew = 30 * time.Second
	MaxSkew     = 2 * time.Minute
)

// Identity is the authenticated user.
type Identity struct {
	// UserID is what the app keys data by: the email, or the subject for
	// service tokens without one.
	UserID  string
	Email   string
	Subject string
	// Dev is true for the development identity.
	Dev bool
}

// ErrNoToken is returned when the request carries no assertion.
var ErrNoToken = errors.New("no access token")

// Authenticator identifies the user of a request.
type Authenticator interface {
	Authenticate(r *http.Request) (Identity, error)
}

// Config configures a Verifier.
type Config struct {
	// TeamDomain is the Access team domain, e.g. "myteam.cloudflareaccess.com"
	// (https:// is assumed); it is the expected issuer.
	TeamDomain string
	// Audience is the application's AUD tag.
	Audience string
	// CertsURL overrides the JWKS address (tests); default
	// <issuer>/cdn-cgi/access/certs.
	CertsURL string
	// Skew is the clock skew tolerated on exp and nbf (default DefaultSkew,
	// at most MaxSkew).
	Skew time.Duration
	// HTTPClient fetches the keys (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Verifier verifies Cloudflare Access assertions.
type Verifier struct {
	verifier *oidc.IDTokenVerifier
	issuer   string
	skew     time.Duration
	now      func() time.Time
}

// NewVerifier builds a verifier. Keys are fetched on first use, so a
// temporarily unreachable key endpoint does not stop the app from starting.
func NewVerifier(cfg Config) (*Verifier, error) {
	if strings.TrimSpace(cfg.TeamDomain) == "" {
		return nil, errors.New("access team domain is required")
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("access audience is required")
	}
	issuer := strings.TrimRight(cfg.TeamDomain, "/")
	if !strings.Contains(issuer, "://") {
		issuer = "https://" + issuer
	}
	certs := cfg.CertsURL
	if certs == "" {
		certs = issuer + "/cdn-cgi/access/certs"
	}
	skew := cfg.Skew
	switch {
	case skew == 0:
		skew = DefaultSkew
	case skew < 0 || skew > MaxSkew:
		return nil, fmt.Errorf("access clock skew %s is outside 0..%s", skew, MaxSkew)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	// The key set keeps this context for its background fetches.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), certs)
	v := oidc.NewVerifier(issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: []string{oidc.RS256},
		// exp and nbf are checked below with a bounded skew: go-oidc allows
		// none on exp and five minutes on nbf.
		SkipExpiryCheck: true,
	})
	return &Verifier{verifier: v, issuer: issuer, skew: skew, now: now}, nil
}

type claims struct {
	Email     string   `json:"email"`
	Subject   string   `json:"sub"`
	Expiry    *float64 `json:"exp"`
	NotBefore *float64 `json:"nbf"`
}

// Verify checks a raw assertion and returns the identity in it.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	if raw == "" {
		return Identity{}, ErrNoToken
	}
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("verify access token: %w", err)
	}
	var c claims
	if err := tok.Claims(&c); err != nil {
		return Identity{}, fmt.Errorf("read access token claims: %w", err)
	}
	now := v.now()
	if c.Expiry == nil {
		return Identity{}, errors.New("verify access token: no exp claim")
	}
	if exp := unix(*c.Expiry); now.After(exp.Add(v.skew)) {
		return Identity{}, fmt.Errorf("verify access token: expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil {
		if nbf := unix(*c.NotBefore); now.Add(v.skew).Before(nbf) {
			return Identity{}, fmt.Errorf("verify access token: not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	id := Identity{Email: c.Email, Subject: c.Subject, UserID: strings.ToLower(c.Email)}
	if id.UserID == "" {
		id.UserID = c.Subject
	}
	if id.UserID == "" {
		return Identity{}, errors.New("verify access token: neither email nor sub")
	}
	return id, nil
}

// Authenticate verifies the request's Cf-Access-Jwt-Assertion header.
func (v *Verifier) Authenticate(r *http.Request) (Identity, error) {
	return v.Verify(r.Context(), r.Header.Get(Header))
}

func unix(secs float64) time.Time {
	return time.Unix(int64(secs), 0)
}

// Dev authenticates every request as one fixed user. Only for local
// development: the web app enables it behind the -dev flag.
type Dev struct {
	User string
}

// Authenticate returns the fixed development identity.
func (d Dev) Authenticate(*http.Request) (Identity, error) {
	if d.User == "" {
		return Identity{}, errors.New("development user is not set")
	}
	return Identity{UserID: d.User, Email: d.User, Subject: d.User, Dev: true}, nil
}

type ctxKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity Middleware stored.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Middleware lets through only requests that a authenticates; others get
// 401 (no token) or 403 (a token that does not verify) with a short plain
// body and nothing else. onReject, when not nil, sees every rejection (for
// logs and metrics).
func Middleware(a Authenticator, onReject func(r *http.Request, err error)) func(http.Handler) http.Handler {
	return MiddlewareWithLogin(a, onReject, nil)
}

// MiddlewareWithLogin is Middleware that sends a page request (GET or
// HEAD outside /api/) without a token to loginURL(the page) instead of
// answering 401, when loginURL is not nil.
func MiddlewareWithLogin(a Authenticator, onReject func(r *http.Request, err error), loginURL func(next string) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, err := a.Authenticate(r)
			if err != nil {
				if onReject != nil {
					onReject(r, err)
				}
				if loginURL != nil && errors.Is(err, ErrNoToken) && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
					!strings.HasPrefix(r.URL.Path, "/api/") {
					w.Header().Set("Cache-Control", "no-store")
					http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusFound)
					return
				}
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("Cache-Control", "no-store")
				if errors.Is(err, ErrNoToken) {
					w.WriteHeader(http.StatusUnauthorized)
					_, _ = w.Write([]byte("unauthorized\n"))
					return
				}
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte("forbidden\n"))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}
