package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
)

// startTLS starts an embedded server that accepts TLS only and requires a
// client certificate signed by ca; the server's certificate is issued for
// hosts (the loopback names when empty).
func startTLS(t *testing.T, ca *tlstest.CA, hosts ...string) *mongotest.Server {
	t.Helper()
	dir := t.TempDir()
	files, err := ca.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) > 0 {
		leaf, err := ca.Issue(tlstest.LeafOptions{CommonName: hosts[0], Usage: tlstest.Server, Hosts: hosts})
		if err != nil {
			t.Fatal(err)
		}
		if files.ServerCert, files.ServerKey, err = tlstest.WriteLeaf(dir, "other-server", leaf); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, stop, err := mongotest.StartTLS(ctx, mongotest.TLS{CertFile: files.ServerCert, KeyFile: files.ServerKey, CAFile: files.CA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return srv
}

// clientFiles writes a CA file and a client certificate+key file of ca.
func clientFiles(t *testing.T, ca *tlstest.CA) tlstest.Files {
	t.Helper()
	files, err := ca.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestConnectTLS(t *testing.T) {
	ca, err := tlstest.NewCA("store test CA")
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLS(t, ca)
	if !strings.Contains(srv.URI(), "tls=true") {
		t.Fatalf("uri %q does not ask for tls", srv.URI())
	}
	files := clientFiles(t, ca)
	client, err := store.Connect(store.Config{URI: srv.URI(), TLSCAFile: files.CA, TLSCertKeyFile: files.ClientCertKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer client.Disconnect(ctx)
	coll := client.Database(srv.Database(t)).Collection(store.Collection)
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "over-tls"}}); err != nil {
		t.Fatalf("insert over tls: %v", err)
	}
	n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: "over-tls"}})
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

func TestConnectTLSFailures(t *testing.T) {
	ca, err := tlstest.NewCA("store test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := tlstest.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLS(t, ca)
	good, wrong := clientFiles(t, ca), clientFiles(t, other)
	expired, err := ca.Issue(tlstest.LeafOptions{CommonName: "expired", Usage: tlstest.Client, NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expiredCertKey := filepath.Join(t.TempDir(), "expired-cert-key.pem")
	if err := writeFile(expiredCertKey, append(append([]byte{}, expired.CertPEM...), expired.KeyPEM...)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  store.Config
		want []string
	}{
		{
			name: "server not trusted by the CA file",
			cfg:  store.Config{URI: srv.URI(), TLSCAFile: wrong.CA, TLSCertKeyFile: good.ClientCertKey},
			want: []string{"not trusted by the ca file " + wrong.CA, "MONGODB_TLS_CA_FILE", "unknown authority"},
		},
		{
			name: "server certificate for another host",
			cfg:  store.Config{URI: startTLS(t, ca, "db.example").URI(), TLSCAFile: good.CA, TLSCertKeyFile: good.ClientCertKey},
			want: []string{"not for the host in MONGODB_URI", "127.0.0.1"},
		},
		{
			name: "no client certificate",
			cfg:  store.Config{URI: srv.URI(), TLSCAFile: good.CA},
			want: []string{"MONGODB_TLS_CERT_KEY_FILE", "certificate required"},
		},
		{
			name: "expired client certificate",
			cfg:  store.Config{URI: srv.URI(), TLSCAFile: good.CA, TLSCertKeyFile: expiredCertKey},
			want: []string{"refused the client certificate " + expiredCertKey, "expired certificate"},
		},
		{
			name: "plain connection to the tls listener",
			cfg:  store.Config{URI: strings.TrimSuffix(srv.URI(), "?tls=true")},
			want: []string{"server selection"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.ServerSelectionTimeout = 2 * time.Second
			client, err := store.Connect(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			defer client.Disconnect(ctx)
			err = client.Ping(ctx, nil)
			if err == nil {
				t.Fatal("ping succeeded")
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q", w)
				}
			}
		})
	}
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }
