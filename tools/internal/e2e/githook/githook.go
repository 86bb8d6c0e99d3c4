// Package githook sends webhook events the way GitHub sends them: a JSON
// body, the event name in X-GitHub-Event and the body's HMAC-SHA256 under
// the webhook's secret in X-Hub-Signature-256. The e2e posts a push event
// to Flux's Receiver with it.
package githook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Push is the part of GitHub's push event payload that a receiver may
// read: which ref moved from which commit to which, in which repository.
type Push struct {
	Ref        string     `json:"ref"`
	Before     string     `json:"before"`
	After      string     `json:"after"`
	Repository Repository `json:"repository"`
	HeadCommit Commit     `json:"head_commit"`
}

// Repository names the repository pushed to.
type Repository struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
}

// Commit is the pushed head commit.
type Commit struct {
	ID        string    `json:"id"`
	Message   string    `json:"message"`
	Timestamp time.Time `json:"timestamp"`
}

// Sign returns the X-Hub-Signature-256 value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Response is what the receiver answered.
type Response struct {
	Status int
	Body   string
}

// Send posts event (a GitHub event name such as "push") with payload,
// signed with secret, to url, and returns the receiver's answer. A
// non-2xx status is not an error: refusing a bad signature is an answer.
func Send(ctx context.Context, url, event string, payload any, secret string) (Response, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return Response{}, fmt.Errorf("encode the %s event: %w", event, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Response{}, fmt.Errorf("post the %s event to %s: %w", event, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/e2e")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("e2e-%d", time.Now().UnixNano()))
	req.Header.Set("X-Hub-Signature-256", Sign(body, secret))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("post the %s event to %s: %w", event, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return Response{}, fmt.Errorf("read the answer to the %s event from %s: %w", event, url, err)
	}
	return Response{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}, nil
}
