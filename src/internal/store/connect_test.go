package store

import (
	"github.com/homelab-gitops/homelab/internal/tlstest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCertKey writes a test CA, and a client certificate it issued
// followed by its key in one PEM file, as MongoDB's tlsCertificateKeyFile
// holds them.
func writeCertKey(t *testing.T, dir string) (caFile, certKeyFile string) {
	t.Helper()
	ca, err := tlstest.NewCA("store-test")
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return files.CA, files.ClientCertKey
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
