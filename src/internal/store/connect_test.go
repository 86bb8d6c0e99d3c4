package store

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCertKey writes a self-signed certificate followed by its key in one
// PEM file, as MongoDB's tlsCertificateKeyFile holds them, and the
// certificate alone as a CA file.
func writeCertKey(t *testing.T, dir string) (caFile, certKeyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "fitness-consumer"},
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
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	caFile, certKeyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "client.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certKeyFile, append(certPEM, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, certKeyFile
}

func TestConfigTLS(t *testing.T) {
	dir := t.TempDir()
	ca, certKey := writeCertKey(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		cfg              Config
		wantNil, wantErr bool
		wantCert, wantCA bool
	}{
		{name: "no files", cfg: Config{}, wantNil: true},
		{name: "CA only", cfg: Config{TLSCAFile: ca}, wantCA: true},
		{name: "CA and client certificate", cfg: Config{TLSCAFile: ca, TLSCertKeyFile: certKey}, wantCA: true, wantCert: true},
		{name: "certificate without key", cfg: Config{TLSCertKeyFile: ca}, wantErr: true},
		{name: "missing CA", cfg: Config{TLSCAFile: filepath.Join(dir, "nope")}, wantErr: true},
		{name: "CA not PEM", cfg: Config{TLSCAFile: garbage}, wantErr: true},
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
			if (len(got.Certificates) == 1) != tt.wantCert || (got.RootCAs != nil) != tt.wantCA {
				t.Errorf("certs=%d roots=%v", len(got.Certificates), got.RootCAs != nil)
			}
		})
	}
}

func TestConnectAsksForMajorityAndSecondaries(t *testing.T) {
	if _, err := Connect(Config{}); err == nil {
		t.Error("Connect accepted an empty URI")
	}
	wc := WriteConcern()
	if wc.W != "majority" || wc.Journal == nil || !*wc.Journal {
		t.Errorf("write concern %+v, want majority with journal", wc)
	}
	rp := ReadPreference()
	if rp.Mode().String() != "secondaryPreferred" {
		t.Errorf("read preference %v", rp.Mode())
	}
	if ms, ok := rp.MaxStaleness(); !ok || ms != 90*time.Second {
		t.Errorf("max staleness %v %v, want 90 s", ms, ok)
	}
}
