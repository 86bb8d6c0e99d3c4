package amqpconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

// writeCerts writes a test CA and a client certificate it issued.
func writeCerts(t *testing.T, dir string) tlstest.Files {
	t.Helper()
	ca, err := tlstest.NewCA("amqpconn-test")
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	files := writeCerts(t, dir)
	ca, cert, key := files.CA, files.ClientCert, files.ClientKey
	notPEM := filepath.Join(dir, "garbage")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      Config
		wantNil  bool
		wantErr  bool
		wantCert bool
		wantCA   bool
	}{
		{name: "plain amqp", cfg: Config{URL: "amqp://guest:guest@rabbitmq:5672/"}, wantNil: true},
		{name: "amqps with system roots", cfg: Config{URL: "amqps://u:p@rabbitmq:5671/"}},
		{name: "amqps with CA and client cert", cfg: Config{URL: "amqps://u:p@rabbitmq:5671/", CAFile: ca, CertFile: cert, KeyFile: key}, wantCert: true, wantCA: true},
		{name: "files on plain amqp", cfg: Config{URL: "amqp://rabbitmq/", CAFile: ca}, wantErr: true},
		{name: "cert without key", cfg: Config{URL: "amqps://rabbitmq/", CertFile: cert}, wantErr: true},
		{name: "CA not PEM", cfg: Config{URL: "amqps://rabbitmq/", CAFile: notPEM}, wantErr: true},
		{name: "CA missing", cfg: Config{URL: "amqps://rabbitmq/", CAFile: filepath.Join(dir, "nope")}, wantErr: true},
		{name: "bad url", cfg: Config{URL: "http://rabbitmq/"}, wantErr: true},
		{name: "cluster over amqps", cfg: Config{URLs: []string{"amqps://u:p@rabbitmq:5671/", "amqps://u:p@rabbitmq-1:5671/"}, CAFile: ca}, wantCA: true},
		{name: "cluster with mixed schemes", cfg: Config{URLs: []string{"amqps://u:p@rabbitmq:5671/", "amqp://u:p@rabbitmq-1:5672/"}}, wantErr: true},
		{name: "cluster with a bad url", cfg: Config{URLs: []string{"amqp://rabbitmq/", "http://rabbitmq-1/"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.TLSConfig()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if (got == nil) != tt.wantNil {
				t.Fatalf("config = %v, want nil %v", got, tt.wantNil)
			}
			if got == nil {
				return
			}
			if got.ServerName != "rabbitmq" {
				t.Errorf("server name %q", got.ServerName)
			}
			if (len(got.Certificates) == 1) != tt.wantCert || (got.RootCAs != nil) != tt.wantCA {
				t.Errorf("certs=%d roots=%v", len(got.Certificates), got.RootCAs != nil)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		wantErr string
	}{
		{name: "default", env: map[string]string{}, want: []string{"amqp://guest:guest@rabbitmq:5672/"}},
		{name: "one url", env: map[string]string{"AMQP_URL": "amqp://a/"}, want: []string{"amqp://a/"}},
		{name: "cluster", env: map[string]string{"AMQP_URLS": " amqp://a/, amqp://b/,,amqp://c/ "}, want: []string{"amqp://a/", "amqp://b/", "amqp://c/"}},
		{name: "both", env: map[string]string{"AMQP_URL": "amqp://a/", "AMQP_URLS": "amqp://b/"}, wantErr: "AMQP_URL and AMQP_URLS are both set"},
		{name: "empty list", env: map[string]string{"AMQP_URLS": " , "}, wantErr: "AMQP_URLS holds no url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := envconf.Map(tt.env).Settings()
			c := ConfigFromEnv(s, "test")
			err := s.Err()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Addresses(); !slices.Equal(got, tt.want) {
				t.Fatalf("addresses %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverTLS(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "amqps://u:p@rabbitmq:5671/", want: "amqp://u:p@rabbitmq:5671/"},
		{in: "amqps://u:p@rabbitmq/vh?heartbeat=5", want: "amqp://u:p@rabbitmq:5671/vh?heartbeat=5"},
		{in: "amqps://u:p@[::1]/", want: "amqp://u:p@[::1]:5671/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := overTLS(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("overTLS(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExplainHandshake(t *testing.T) {
	cert := &x509.Certificate{DNSNames: []string{"rabbitmq"}}
	tests := []struct {
		name string
		cfg  Config
		err  error
		want string
	}{
		{name: "unknown authority with ca file", cfg: Config{CAFile: "/etc/amqp/ca.pem"}, err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, want: "not trusted by the ca file /etc/amqp/ca.pem (AMQP_CA_FILE)"},
		{name: "unknown authority with system roots", err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, want: "system roots (set AMQP_CA_FILE)"},
		{name: "wrong host", cfg: Config{CAFile: "/etc/amqp/ca.pem"}, err: &tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: cert, Host: "broker"}}, want: "not for the host in AMQP_URL"},
		{name: "other", err: errors.New("boom"), want: "tls handshake: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.explainHandshake(tt.err)
			if !strings.Contains(got.Error(), tt.want) || !errors.Is(got, tt.err) {
				t.Fatalf("explainHandshake = %q, want it to say %q and wrap the cause", got, tt.want)
			}
		})
	}
}
