// Package rabbitdefs exports a RabbitMQ cluster's definitions (users,
// vhosts, permissions, policies, queues, exchanges, bindings) from the
// management API, the file `rabbitmqctl import_definitions` and
// POST /api/definitions take back.
package rabbitdefs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxSize bounds what is read: definitions of a homelab broker are
// kilobytes; a larger answer is not a definitions file.
const maxSize = 64 << 20

// Export returns the definitions of the broker whose management API is at
// baseURL (https://host:15671), checked to be a definitions document.
func Export(ctx context.Context, client *http.Client, baseURL, user, password string) ([]byte, error) {
	url := strings.TrimSuffix(baseURL, "/") + "/api/definitions"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body[:min(len(body), 512)])))
	}
	if len(body) > maxSize {
		return nil, fmt.Errorf("get %s: answer larger than %d bytes", url, maxSize)
	}
	var defs struct {
		Version *string           `json:"rabbit_version"`
		VHosts  []json.RawMessage `json:"vhosts"`
	}
	if err := json.Unmarshal(body, &defs); err != nil {
		return nil, fmt.Errorf("get %s: not a definitions document: %w", url, err)
	}
	if defs.Version == nil || len(defs.VHosts) == 0 {
		return nil, fmt.Errorf("get %s: not a definitions document (no rabbit_version or no vhosts)", url)
	}
	return body, nil
}
