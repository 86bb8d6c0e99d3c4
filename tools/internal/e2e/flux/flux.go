// Package flux runs Flux's controllers as local processes against the
// test cluster and reads the state of Flux objects.
package flux

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/tools/internal/e2e/cluster"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// Controllers names the controllers to run; each is a binary of the same
// name in the bin directory.
type Controllers []string

// Default is what the test runs: sources, Kustomizations, HelmReleases
// and notification-controller, whose Receiver turns a Git host's push
// event into a reconcile request.
var Default = Controllers{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"}

// Endpoints are the addresses of the started controllers that a test
// talks to itself.
type Endpoints struct {
	// Receiver is the base URL of notification-controller's webhook
	// receiver (the webhook-receiver Service in a cluster); a Receiver's
	// status.webhookPath is appended to it. "" when it does not run.
	Receiver string
	// Metrics is each controller's metrics URL, by controller name.
	Metrics map[string]string
}

// OfflineProxyEnv sends every HTTP(S) request of the controllers that is
// not for loopback to a closed loopback port, so a chart or image source
// that points at the internet fails at once with "connection refused" and
// nothing leaves the machine, not even a DNS query.
var OfflineProxyEnv = []string{
	"HTTP_PROXY=http://127.0.0.1:1",
	"HTTPS_PROXY=http://127.0.0.1:1",
	"NO_PROXY=127.0.0.1,localhost,::1",
}

// Start runs the controllers in g with the kubeconfig and waits until each
// reports ready on its health endpoint. prefix is put before the process
// names; extra adds arguments per controller (those the tree gives it,
// Install.Args).
func Start(ctx context.Context, g *proc.Group, prefix, binDir, workDir, kubeconfig string, ctrls Controllers, extra map[string][]string, log *slog.Logger) (Endpoints, error) {
	ep := Endpoints{Metrics: map[string]string{}}
	for _, name := range ctrls {
		ports, err := cluster.FreePorts(4)
		if err != nil {
			return ep, err
		}
		metrics, health := addr(ports[0]), addr(ports[1])
		args := []string{
			"--metrics-addr=" + metrics,
			"--health-addr=" + health,
			"--enable-leader-election=false",
			"--watch-all-namespaces=true",
			"--log-encoding=json",
			"--log-level=info",
		}
		if name == "kustomize-controller" || name == "helm-controller" {
			// Look at dependsOn again every 5s instead of 30s.
			args = append(args, "--requeue-dependency=5s")
		}
		if name == "source-controller" {
			storage := filepath.Join(workDir, "source-storage")
			if err := os.MkdirAll(storage, 0o755); err != nil {
				return ep, fmt.Errorf("create artifact storage: %w", err)
			}
			args = append(args,
				"--storage-path="+storage,
				"--storage-addr="+addr(ports[2]),
				"--storage-adv-addr="+addr(ports[2]),
			)
		}
		if name == "notification-controller" {
			// The event server is where the other controllers would
			// post their events for Alerts; they are not pointed at it
			// here (no Provider can be reached offline).
			args = append(args, "--events-addr="+addr(ports[2]), "--receiverAddr="+addr(ports[3]))
			ep.Receiver = "http://" + addr(ports[3])
		}
		ep.Metrics[name] = "http://" + metrics + "/metrics"
		args = append(args, extra[name]...)
		p, err := g.Start(proc.Spec{
			Name: prefix + "-" + name,
			Path: filepath.Join(binDir, name),
			Args: args,
			Env: append([]string{
				"KUBECONFIG=" + kubeconfig,
				"RUNTIME_NAMESPACE=flux-system",
			}, OfflineProxyEnv...),
		})
		if err != nil {
			return ep, err
		}
		if err := proc.WaitFor(ctx, p, 300*time.Millisecond, healthy("http://"+health+"/readyz")); err != nil {
			return ep, fmt.Errorf("wait for %s: %w", name, err)
		}
		log.Info("controller ready", "controller", prefix+"-"+name, "extra", extra[name])
	}
	return ep, nil
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

func healthy(url string) func(context.Context) (bool, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return true, nil
	}
}
