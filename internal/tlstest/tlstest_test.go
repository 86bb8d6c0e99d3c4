package tlstest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWriteFilesVerify(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("ca PEM does not parse")
	}
	tests := []struct {
		name     string
		cert     string
		key      string
		usage    x509.ExtKeyUsage
		host     string
		wantFail string
	}{
		{name: "server for 127.0.0.1", cert: files.ServerCert, key: files.ServerKey, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1"},
		{name: "server for ::1", cert: files.ServerCert, key: files.ServerKey, usage: x509.ExtKeyUsageServerAuth, host: "::1"},
		{name: "server for localhost", cert: files.ServerCert, key: files.ServerKey, usage: x509.ExtKeyUsageServerAuth, host: "localhost"},
		{name: "server for another host", cert: files.ServerCert, key: files.ServerKey, usage: x509.ExtKeyUsageServerAuth, host: "rabbitmq", wantFail: "not rabbitmq"},
		{name: "client", cert: files.ClientCert, key: files.ClientKey, usage: x509.ExtKeyUsageClientAuth},
		{name: "client as server", cert: files.ClientCert, key: files.ClientKey, usage: x509.ExtKeyUsageServerAuth, wantFail: "incompatible key usage"},
		{name: "client cert+key file", cert: files.ClientCertKey, key: files.ClientCertKey, usage: x509.ExtKeyUsageClientAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := tls.LoadX509KeyPair(tt.cert, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: tt.host, KeyUsages: []x509.ExtKeyUsage{tt.usage}})
			if tt.wantFail == "" && err != nil {
				t.Fatalf("verify: %v", err)
			}
			if tt.wantFail != "" && (err == nil || !strings.Contains(err.Error(), tt.wantFail)) {
				t.Fatalf("verify error = %v, want one containing %q", err, tt.wantFail)
			}
		})
	}
}

func TestIssueExpired(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(LeafOptions{CommonName: "old", Usage: Client, NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leaf.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("verify error = %v, want expired", err)
	}
	if !cert.NotBefore.Before(cert.NotAfter) {
		t.Fatalf("validity %v..%v is empty", cert.NotBefore, cert.NotAfter)
	}
}

func TestWriteLeaf(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(LeafOptions{CommonName: "c", Usage: Client})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := WriteLeaf(t.TempDir(), "c", leaf)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
}

func TestIssueHosts(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(LeafOptions{CommonName: "db", Usage: Server, Hosts: []string{"db.example", "10.0.0.7"}})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(leaf.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"db.example": true, "10.0.0.7": true, "127.0.0.1": false, "localhost": false} {
		if got := cert.VerifyHostname(host) == nil; got != want {
			t.Errorf("valid for %s = %v, want %v", host, got, want)
		}
	}
}

// TestWriteRefused: the other CA's client certificate does not chain to
// ca, and the expired one does but is expired.
func TestWriteRefused(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ca.WriteRefused(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	verify := func(file string) error {
		t.Helper()
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
	var unknown x509.UnknownAuthorityError
	if err := verify(r.Other.ClientCert); !errors.As(err, &unknown) {
		t.Errorf("other CA's client certificate: %v, want unknown authority", err)
	}
	var invalid x509.CertificateInvalidError
	if err := verify(r.ExpiredCert); !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Errorf("expired client certificate: %v, want expired", err)
	}
	if _, err := tls.LoadX509KeyPair(r.ExpiredCert, r.ExpiredKey); err != nil {
		t.Errorf("expired pair: %v", err)
	}
}

// TestKubernetesCertificates issues what a throw-away kube-apiserver needs:
// a serving certificate for its service names and addresses, and a client
// certificate whose organization is the system:masters group.
func TestKubernetesCertificates(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM) {
		t.Fatal("CA PEM does not parse")
	}
	serving, err := ca.Issue(LeafOptions{CommonName: "kube-apiserver", Usage: Server, Hosts: []string{"kubernetes.default.svc", "10.96.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ca.Issue(LeafOptions{CommonName: "e2e-admin", Usage: Client, Groups: []string{"system:masters"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		leaf  Leaf
		usage x509.ExtKeyUsage
		host  string
		org   []string
	}{
		{"serving certificate by DNS name", serving, x509.ExtKeyUsageServerAuth, "kubernetes.default.svc", []string{"homelab tests"}},
		{"serving certificate by IP", serving, x509.ExtKeyUsageServerAuth, "10.96.0.1", []string{"homelab tests"}},
		{"client certificate with a group", admin, x509.ExtKeyUsageClientAuth, "", []string{"system:masters"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := tls.X509KeyPair(tt.leaf.CertPEM, tt.leaf.KeyPEM)
			if err != nil {
				t.Fatalf("key pair does not match: %v", err)
			}
			cert, err := x509.ParseCertificate(pair.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: tt.host, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if !slices.Equal(cert.Subject.Organization, tt.org) {
				t.Errorf("O = %v, want %v", cert.Subject.Organization, tt.org)
			}
		})
	}
}
