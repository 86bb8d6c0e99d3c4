package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
)

func TestIssuedCertificatesVerifyAgainstTheCA(t *testing.T) {
	ca, err := NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM) {
		t.Fatal("CA PEM does not parse")
	}
	serving, err := ca.Serving("kube-apiserver", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ca.Client("e2e-admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pair   Pair
		usage  x509.ExtKeyUsage
		host   string
		cn     string
		groups []string
	}{
		{name: "serving certificate for 127.0.0.1", pair: serving, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1", cn: "kube-apiserver"},
		{name: "client certificate with groups", pair: admin, usage: x509.ExtKeyUsageClientAuth, cn: "e2e-admin", groups: []string{"system:masters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tls.X509KeyPair(tt.pair.CertPEM, tt.pair.KeyPEM); err != nil {
				t.Fatalf("key pair does not match: %v", err)
			}
			block, _ := pem.Decode(tt.pair.CertPEM)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: tt.host, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if cert.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.cn)
			}
			if len(tt.groups) > 0 && (len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != tt.groups[0]) {
				t.Errorf("O = %v, want %v", cert.Subject.Organization, tt.groups)
			}
		})
	}
}

func TestServiceAccountKeyPair(t *testing.T) {
	priv, pub, err := ServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := pem.Decode(priv)
	key, err := x509.ParsePKCS1PrivateKey(pb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ub, _ := pem.Decode(pub)
	parsed, err := x509.ParsePKIXPublicKey(ub.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(parsed) {
		t.Fatal("public key does not belong to the private key")
	}
}
