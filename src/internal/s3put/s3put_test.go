package s3put

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSignatureV4Vector signs the example request of AWS's Signature
// Version 4 documentation and test suite (IAM ListUsers) and compares the
// signature with the one published there.
func TestSignatureV4Vector(t *testing.T) {
	b := &Bucket{Region: "us-east-1", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	req, err := http.NewRequest(http.MethodGet, "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	empty := sha256.Sum256(nil)
	b.sign(req, hex.EncodeToString(empty[:]), time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC), "iam")
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, " +
		"SignedHeaders=content-type;host;x-amz-date, " +
		"Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
}

func TestPut(t *testing.T) {
	body := strings.Repeat("dump bytes ", 1000)
	path := filepath.Join(t.TempDir(), "mongodb-20261204T020000Z.tar")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	var got *http.Request
	var gotBody string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(data)
		if r.URL.Path == "/backups/denied" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>`)
		}
	}))
	defer srv.Close()
	b := &Bucket{Endpoint: srv.URL, Name: "backups", Region: "eu-central-1", AccessKeyID: "AKID", SecretAccessKey: "secret",
		Client: srv.Client(), Now: func() time.Time { return time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC) }}
	if err := b.Put(context.Background(), "daily/mongodb-20261204T020000Z.tar", path); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPut || got.URL.Path != "/backups/daily/mongodb-20261204T020000Z.tar" {
		t.Errorf("request %s %s, want PUT /backups/daily/mongodb-20261204T020000Z.tar", got.Method, got.URL.Path)
	}
	if gotBody != body || got.ContentLength != int64(len(body)) {
		t.Errorf("body of %d bytes (Content-Length %d), want the file's %d", len(gotBody), got.ContentLength, len(body))
	}
	if h := got.Header.Get("X-Amz-Content-Sha256"); h != hex.EncodeToString(sum[:]) {
		t.Errorf("x-amz-content-sha256 %s, want the file's SHA-256", h)
	}
	auth := got.Header.Get("Authorization")
	for _, want := range []string{"Credential=AKID/20261204/eu-central-1/s3/aws4_request", "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date"} {
		if !strings.Contains(auth, want) {
			t.Errorf("Authorization %q lacks %q", auth, want)
		}
	}

	err := b.Put(context.Background(), "denied", path)
	if err == nil || !strings.Contains(err.Error(), "put s3://backups/denied: 403 Forbidden: AccessDenied: Access Denied.") {
		t.Errorf("refused upload: %v, want the status and the service's error code", err)
	}
}
