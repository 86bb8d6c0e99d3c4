package amqpconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
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
		{name: "amqps with CA and client cert", cfg: Config{URL: "amqps://u:p@rabbitmq:5671/", CAFile: cert, CertFile: cert, KeyFile: key}, wantCert: true, wantCA: true},
		{name: "files on plain amqp", cfg: Config{URL: "amqp://rabbitmq/", CAFile: cert}, wantErr: true},
		{name: "cert without key", cfg: Config{URL: "amqps://rabbitmq/", CertFile: cert}, wantErr: true},
		{name: "CA not PEM", cfg: Config{URL: "amqps://rabbitmq/", CAFile: notPEM}, wantErr: true},
		{name: "CA missing", cfg: Config{URL: "amqps://rabbitmq/", CAFile: filepath.Join(dir, "nope")}, wantErr: true},
		{name: "bad url", cfg: Config{URL: "http://rabbitmq/"}, wantErr: true},
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
