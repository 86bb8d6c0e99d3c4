package etcdsnapshot

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const script = "../../../infrastructure/edge/etcd-backup/etcd-snapshot.sh"

// etcdBinary is the etcd that make e2e builds into its cache; the test
// skips without it (it is not a package install-deps.sh installs).
func etcdBinary(t *testing.T) string {
	if p := os.Getenv("ETCD_BIN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache", "homelab-e2e", "*", "bin", "etcd"))
	if len(matches) == 0 {
		t.Skip("no etcd binary: set ETCD_BIN or run make e2e once to build its cache")
	}
	return matches[len(matches)-1]
}

func lookPath(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (scripts/install-deps.sh installs it)", name)
		}
		t.Skipf("%s is not installed (scripts/install-deps.sh installs it)", name)
	}
	return p
}

type pki struct {
	dir                                              string
	ca, serverCert, serverKey, clientCert, clientKey string
}

// newPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, as kubeadm's etcd/ca.crt, server.crt and
// healthcheck-client.crt.
func newPKI(t *testing.T) pki {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	p := pki{dir: dir, ca: filepath.Join(dir, "ca.crt")}
	write(t, p.ca, "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage []x509.ExtKeyUsage, ips []net.IP) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		cert, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		write(t, cert, "CERTIFICATE", der)
		write(t, keyFile, "PRIVATE KEY", keyDER)
		return cert, keyFile
	}
	// kubeadm's etcd server certificate is also a client one: etcd
	// dials itself with it (gRPC gateway).
	p.serverCert, p.serverKey = issue("server", 2, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []net.IP{net.ParseIP("127.0.0.1")})
	p.clientCert, p.clientKey = issue("healthcheck-client", 3, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil)
	return p
}

func write(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd runs a single-member etcd on dataDir that requires client
// certificates, and returns its client URL.
func startEtcd(t *testing.T, bin string, p pki, dataDir string) string {
	client := fmt.Sprintf("https://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--name=default", "--data-dir="+dataDir,
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer, "--initial-cluster=default="+peer,
		"--cert-file="+p.serverCert, "--key-file="+p.serverKey, "--trusted-ca-file="+p.ca, "--client-cert-auth",
		"--log-level=error")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("etcd logs:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if etcdctl(t, p, client, "endpoint", "health") == nil {
			return client
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("etcd on %s not healthy after 20 s", client)
	return ""
}

func etcdctl(t *testing.T, p pki, endpoint string, args ...string) error {
	out, err := exec.Command("etcdctl", append([]string{"--endpoints=" + endpoint, "--cacert=" + p.ca,
		"--cert=" + p.clientCert, "--key=" + p.clientKey}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("etcdctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

type upload struct {
	path, auth, sha string
	body            []byte
}

// TestSnapshotUpload runs the script as the timer does (on a Sunday, so it
// uploads daily/ and weekly/) against etcd with client certificates,
// checks what the bucket received and that the volume is pruned.
//
// Restoring is not tested here: etcd 3.6 (the cache's, as on the nodes)
// refuses a data directory restored by Debian's etcdctl 3.4 ("member
// unknown"); the restore needs etcdutl of the server's version
// (docs/runbook.md).
func TestSnapshotUpload(t *testing.T) {
	bin := etcdBinary(t)
	lookPath(t, "etcdctl")
	lookPath(t, "curl")
	p := newPKI(t)
	endpoint := startEtcd(t, bin, p, filepath.Join(t.TempDir(), "etcd"))
	if err := etcdctl(t, p, endpoint, "put", "/registry/namespaces/fitness", "before-the-snapshot"); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var uploads []upload
	s3 := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		uploads = append(uploads, upload{r.Method + " " + r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Content-Sha256"), body})
		mu.Unlock()
	}))
	defer s3.Close()
	s3CA := filepath.Join(t.TempDir(), "s3-ca.pem")
	write(t, s3CA, "CERTIFICATE", s3.Certificate().Raw)

	backups := t.TempDir()
	// Saturday's snapshot is kept (two days), January's is not (not among
	// the last two days nor the newest of the last week); a file that is
	// not a snapshot stays.
	for _, name := range []string{"20261205T031500Z.db.gz", "20260101T031500Z.db.gz", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(backups, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sunday := time.Date(2026, 12, 6, 3, 15, 0, 0, time.UTC)
	textfiles := t.TempDir()
	snapshot := func(at time.Time, s3URL string) ([]byte, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(),
			"ETCD_ENDPOINT="+endpoint, "ETCD_CACERT="+p.ca, "ETCD_CERT="+p.clientCert, "ETCD_KEY="+p.clientKey,
			"BACKUP_DIR="+backups, "KEEP_DAILY=2", "KEEP_WEEKLY=1", fmt.Sprintf("SNAPSHOT_TIME=%d", at.Unix()),
			"TEXTFILE_DIR="+textfiles,
			"S3_ENDPOINT="+s3URL, "S3_BUCKET=homelab-backups", "S3_REGION=eu-central-1", "S3_CA_FILE="+s3CA,
			"S3_ACCESS_KEY_ID=AKIDTEST", "S3_SECRET_ACCESS_KEY=secret-test")
		return cmd.CombinedOutput()
	}
	out, err := snapshot(sunday, s3.URL)
	t.Logf("etcd-snapshot.sh:\n%s", out)
	if err != nil {
		t.Fatalf("etcd-snapshot.sh: %v", err)
	}
	if strings.Contains(string(out), "secret-test") {
		t.Error("the script printed the secret access key")
	}
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	want := []string{
		"PUT /homelab-backups/etcd/daily/" + host + "/20261206T031500Z.db.gz",
		"PUT /homelab-backups/etcd/weekly/" + host + "/20261206T031500Z.db.gz",
	}
	local, err := os.ReadFile(filepath.Join(backups, "20261206T031500Z.db.gz"))
	if err != nil {
		t.Fatal(err)
	}
	localSum := sha256.Sum256(local)
	if len(uploads) != len(want) {
		t.Fatalf("uploads %d, want %d", len(uploads), len(want))
	}
	for i, u := range uploads {
		if u.path != want[i] {
			t.Errorf("upload %d: %s, want %s", i, u.path, want[i])
		}
		if !bytes.Equal(u.body, local) || u.sha != hex.EncodeToString(localSum[:]) {
			t.Errorf("upload %d: body or x-amz-content-sha256 differ from the local snapshot", i)
		}
		if !strings.HasPrefix(u.auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/20") || !strings.Contains(u.auth, "/eu-central-1/s3/aws4_request") ||
			!strings.Contains(u.auth, "x-amz-content-sha256") {
			t.Errorf("upload %d: Authorization %q is not a SigV4 signature over the payload hash", i, u.auth)
		}
	}
	if _, err := os.Stat(filepath.Join(backups, "20260101T031500Z.db.gz")); !os.IsNotExist(err) {
		t.Errorf("the snapshot outside the retention is still there (%v)", err)
	}
	for _, kept := range []string{"notes.txt", "20261205T031500Z.db.gz"} {
		if _, err := os.Stat(filepath.Join(backups, kept)); err != nil {
			t.Errorf("%s was removed: %v", kept, err)
		}
	}
	checkTextfile(t, textfiles, sunday, len(local))

	// A run whose upload fails records nothing: the last success stays,
	// and EtcdSnapshotStale sees it age.
	refusing := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bucket unavailable", http.StatusServiceUnavailable)
	}))
	defer refusing.Close()
	write(t, s3CA, "CERTIFICATE", refusing.Certificate().Raw)
	if out, err := snapshot(sunday.Add(24*time.Hour), refusing.URL); err == nil {
		t.Errorf("etcd-snapshot.sh succeeded with a bucket that refuses uploads:\n%s", out)
	}
	checkTextfile(t, textfiles, sunday, len(local))

	status, err := exec.Command("etcdctl", "snapshot", "status", filepath.Join(backups, "20261206T031500Z.db.gz")).CombinedOutput()
	if err == nil {
		t.Errorf("etcdctl read a gzipped file as a snapshot: %s", status)
	}
	gz, err := gzip.NewReader(bytes.NewReader(uploads[0].body))
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(gz)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snapshot.db")
	if err := os.WriteFile(snap, db, 0o600); err != nil {
		t.Fatal(err)
	}
	// The uploaded snapshot is whole: etcd's own check reads its hash and
	// the revision of the key written before it.
	status, err = exec.Command("etcdctl", "snapshot", "status", snap, "--write-out=json").CombinedOutput()
	if err != nil || !strings.Contains(string(status), `"revision":2`) {
		t.Errorf("snapshot status: %s (%v), want revision 2", status, err)
	}
}

// checkTextfile checks the node_exporter textfile the script leaves: the
// time and size of the snapshot taken at, readable by node_exporter's
// user, and no temporary file beside it.
func checkTextfile(t *testing.T, dir string, at time.Time, size int) {
	t.Helper()
	path := filepath.Join(dir, "etcd_snapshot.prom")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no textfile for node_exporter: %v", err)
	}
	for _, want := range []string{
		fmt.Sprintf("etcd_snapshot_last_success_timestamp_seconds %d\n", at.Unix()),
		fmt.Sprintf("etcd_snapshot_last_success_size_bytes %d\n", size),
		"# TYPE etcd_snapshot_last_success_timestamp_seconds gauge\n",
	} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %q:\n%s", path, want, data)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v, want 0644 for node_exporter's user", path, fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("%s holds %d files, want only etcd_snapshot.prom (a temporary file left behind?)", dir, len(entries))
	}
	// The exposition format as Prometheus parses it, when the pinned
	// promtool is at hand (make test gives it).
	if promtool := os.Getenv("PROMTOOL"); promtool != "" {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics %s: %v\n%s", path, err, out)
		}
	}
}
