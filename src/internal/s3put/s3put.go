// Package s3put uploads files to an S3-compatible bucket (AWS S3, MinIO,
// Garage, Backblaze B2, Cloudflare R2) with path-style URLs and AWS
// Signature Version 4: the one request a backup needs, without an SDK, so
// that the backup image stays small.
package s3put

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Bucket is where uploads go.
type Bucket struct {
	// Endpoint is the service's base URL, e.g. https://s3.eu-central-1.amazonaws.com
	// or https://minio.example.org:9000.
	Endpoint        string
	Name            string
	Region          string // "us-east-1" where the service ignores it
	AccessKeyID     string
	SecretAccessKey string
	Client          *http.Client
	// Now is the clock requests are signed with (time.Now if nil).
	Now func() time.Time
}

// Put uploads the file at path as key, with its SHA-256 signed so that the
// service rejects a body altered or cut short on the way.
func (b *Bucket) Put(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	u, err := url.Parse(strings.TrimSuffix(b.Endpoint, "/") + "/" + b.Name + "/" + key)
	if err != nil {
		return fmt.Errorf("object url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	b.sign(req, hex.EncodeToString(h.Sum(nil)), now(), "s3")
	client := b.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.Name, key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("put s3://%s/%s: %s%s", b.Name, key, resp.Status, serviceError(resp.Body))
	}
	return nil
}

// serviceError extracts the code and message of an S3 error document.
func serviceError(r io.Reader) string {
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	data, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	if xml.Unmarshal(data, &e) != nil || e.Code == "" {
		return ""
	}
	return fmt.Sprintf(": %s: %s", e.Code, e.Message)
}

// sign adds X-Amz-Date, X-Amz-Content-Sha256 and the Authorization header
// of Signature Version 4, signing the host, the content type and every
// x-amz-* header.
func (b *Bucket) sign(req *http.Request, payloadHash string, at time.Time, service string) {
	at = at.UTC()
	stamp := at.Format("20060102T150405Z")
	day := at.Format("20060102")
	req.Header.Set("X-Amz-Date", stamp)
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	headers := map[string]string{"host": req.URL.Host}
	for name, values := range req.Header {
		n := strings.ToLower(name)
		if n == "content-type" || strings.HasPrefix(n, "x-amz-") {
			headers[n] = strings.Join(values, ",")
		}
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	slices.Sort(names)
	var canonicalHeaders strings.Builder
	for _, n := range names {
		canonicalHeaders.WriteString(n + ":" + strings.TrimSpace(headers[n]) + "\n")
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{
		req.Method,
		req.URL.EscapedPath(),
		canonicalQuery(req.URL.Query()),
		canonicalHeaders.String(),
		signed,
		payloadHash,
	}, "\n")
	scope := day + "/" + b.Region + "/" + service + "/aws4_request"
	digest := sha256.Sum256([]byte(canonical))
	toSign := "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + hex.EncodeToString(digest[:])
	key := []byte("AWS4" + b.SecretAccessKey)
	for _, part := range []string{day, b.Region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	signature := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+b.AccessKeyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+signature)
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// escape is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~.
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
