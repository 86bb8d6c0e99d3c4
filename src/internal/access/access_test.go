package access

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testAud = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// jwks is a local key server whose key set a test can change.
type jwks struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int32
}

func (j *jwks) set(keys ...jose.JSONWebKey) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.keys = keys
}

func (j *jwks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.fetches.Add(1)
	j.mu.Lock()
	defer j.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: j.keys})
}

type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

func newKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, kid: kid}
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"}
}

func (k signingKey) sign(t *testing.T, c map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return serialize(t, signer, c)
}

func serialize(t *testing.T, signer jose.Signer, c map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type fixture struct {
	keys     *jwks
	server   *httptest.Server
	issuer   string
	verifier *Verifier
	key      signingKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{keys: &jwks{}, key: newKey(t, "key-1"), issuer: "https://homelab.cloudflareaccess.com"}
	f.keys.set(f.key.public())
	f.server = httptest.NewServer(f.keys)
	t.Cleanup(f.server.Close)
	v, err := NewVerifier(Config{
		TeamDomain: "homelab.cloudflareaccess.com",
		Audience:   testAud,
		CertsURL:   f.server.URL + "/cdn-cgi/access/certs",
		HTTPClient: f.server.Client(),
		Now:        func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.verifier = v
	return f
}

func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss":   f.issuer,
		"aud":   []string{testAud},
		"sub":   "7335d417-61da-459d-899c-0a01c76a2f94",
		"email": "Ana@Example.com",
		"iat":   testNow.Add(-time.Minute).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"exp":   testNow.Add(time.Hour).Unix(),
		"type":  "app",
	}
}

func with(c map[string]any, key string, value any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	pubDER, err := x509.MarshalPKIXPublicKey(&f.key.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hsSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "key-1"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(f.claims())
	none := b64([]byte(`{"alg":"none","typ":"JWT","kid":"key-1"}`)) + "." + b64(payload) + "."
	stranger := newKey(t, "key-1")

	tests := []struct {
		name    string
		token   string
		wantErr string
		user    string
	}{
		{name: "valid", token: f.key.sign(t, f.claims()), user: "ana@example.com"},
		{name: "within the skew after exp", token: f.key.sign(t, with(f.claims(), "exp", testNow.Add(-20*time.Second).Unix())), user: "ana@example.com"},
		{name: "service token without email uses sub", token: f.key.sign(t, with(f.claims(), "email", nil)), user: "7335d417-61da-459d-899c-0a01c76a2f94"},
		{name: "expired", token: f.key.sign(t, with(f.claims(), "exp", testNow.Add(-time.Minute).Unix())), wantErr: "expired"},
		{name: "no exp", token: f.key.sign(t, with(f.claims(), "exp", nil)), wantErr: "no exp"},
		{name: "not yet valid", token: f.key.sign(t, with(f.claims(), "nbf", testNow.Add(time.Minute).Unix())), wantErr: "not valid before"},
		{name: "wrong audience", token: f.key.sign(t, with(f.claims(), "aud", []string{"another-app"})), wantErr: "audience"},
		{name: "wrong issuer", token: f.key.sign(t, with(f.claims(), "iss", "https://evil.cloudflareaccess.com")), wantErr: "different provider"},
		{name: "signed by another key with a known kid", token: stranger.sign(t, f.claims()), wantErr: "signature"},
		{name: "alg none", token: none, wantErr: "malformed jwt"},
		{name: "HS256 keyed with the public key", token: serialize(t, hsSigner, f.claims()), wantErr: "malformed jwt"},
		{name: "garbage", token: "not.a.jwt", wantErr: "malformed jwt"},
		{name: "empty", token: "", wantErr: ErrNoToken.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := f.verifier.Verify(context.Background(), tt.token)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.UserID != tt.user || id.Dev {
				t.Errorf("identity = %+v, want user %q", id, tt.user)
			}
		})
	}
}

func TestVerifyRefreshesOnUnknownKey(t *testing.T) {
	f := newFixture(t)
	if _, err := f.verifier.Verify(context.Background(), f.key.sign(t, f.claims())); err != nil {
		t.Fatalf("first key: %v", err)
	}
	fetches := f.keys.fetches.Load()
	// Cached: a second token with the same key does not fetch again.
	if _, err := f.verifier.Verify(context.Background(), f.key.sign(t, f.claims())); err != nil {
		t.Fatalf("first key again: %v", err)
	}
	if got := f.keys.fetches.Load(); got != fetches {
		t.Errorf("keys fetched %d times for a cached key, want %d", got, fetches)
	}

	// The team rotates its keys: the unknown kid triggers a refresh.
	rotated := newKey(t, "key-2")
	f.keys.set(f.key.public(), rotated.public())
	id, err := f.verifier.Verify(context.Background(), rotated.sign(t, f.claims()))
	if err != nil {
		t.Fatalf("rotated key after refresh: %v", err)
	}
	if id.UserID != "ana@example.com" {
		t.Errorf("user = %q", id.UserID)
	}
	if got := f.keys.fetches.Load(); got != fetches+1 {
		t.Errorf("keys fetched %d times after a rotation, want %d", got, fetches+1)
	}

	// A kid the team never published still fails after the refresh. (This
	// comes last: go-oidc lets a verification that follows a failed refresh
	// within microseconds reuse that refresh's result.)
	if _, err := f.verifier.Verify(context.Background(), newKey(t, "key-3").sign(t, f.claims())); err == nil {
		t.Fatal("a token signed with a key the team does not publish verified")
	}
}

func TestNewVerifierConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no team", Config{Audience: "a"}, "team domain"},
		{"no audience", Config{TeamDomain: "t.cloudflareaccess.com"}, "audience"},
		{"skew too large", Config{TeamDomain: "t", Audience: "a", Skew: time.Hour}, "skew"},
		{"ok", Config{TeamDomain: "t.cloudflareaccess.com", Audience: "a"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v.issuer != "https://t.cloudflareaccess.com" {
					t.Errorf("issuer = %q", v.issuer)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	var rejected []error
	h := Middleware(f.verifier, func(_ *http.Request, err error) { rejected = append(rejected, err) })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := FromContext(r.Context())
			_, _ = w.Write([]byte("secret page for " + id.UserID))
		}))

	tests := []struct {
		name   string
		token  string
		status int
		body   string
	}{
		{"no token", "", http.StatusUnauthorized, "unauthorized\n"},
		{"bad token", f.key.sign(t, with(f.claims(), "aud", "x")), http.StatusForbidden, "forbidden\n"},
		{"valid", f.key.sign(t, f.claims()), http.StatusOK, "secret page for ana@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.token != "" {
				req.Header.Set(Header, tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.status, tt.body)
			}
		})
	}
	if len(rejected) != 2 || !errors.Is(rejected[0], ErrNoToken) {
		t.Errorf("rejections = %v", rejected)
	}
}

func TestDev(t *testing.T) {
	id, err := Dev{User: "dev@localhost"}.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
	if err != nil || id.UserID != "dev@localhost" || !id.Dev {
		t.Errorf("Dev = %+v, %v", id, err)
	}
	if _, err := (Dev{}).Authenticate(httptest.NewRequest(http.MethodGet, "/", nil)); err == nil {
		t.Error("Dev without a user authenticated")
	}
}
