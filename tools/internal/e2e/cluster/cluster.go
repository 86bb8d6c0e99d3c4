// Package cluster starts a throw-away Kubernetes cluster on loopback from
// locally built binaries: etcd, kube-apiserver (TLS, client certificates),
// kube-controller-manager, kube-scheduler, and kwok standing in for kubelets
// on fake nodes, so that pods are scheduled and reported running.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/homelab-gitops/homelab/internal/tlstest"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/kube"
	"github.com/homelab-gitops/homelab/tools/internal/e2e/proc"
)

// Config tells Start where the binaries are and where to keep state.
type Config struct {
	// Name prefixes the names of the cluster's processes (and log files).
	Name string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok.
	BinDir string
	// KwokStages is the kwok configuration with the node and pod stages.
	KwokStages string
	// WorkDir receives certificates, kubeconfigs and etcd's data.
	WorkDir string
	// Nodes are the fake nodes to create.
	Nodes []Node
	// WebhookAdmission keeps the API server's admission webhooks on. Off,
	// the API server never calls the webhooks that charts register: their
	// servers would be pods on fake nodes, which run nothing.
	WebhookAdmission bool
}

// Node is a fake node.
type Node struct {
	Name string
	Zone string
	// ControlPlane nodes carry the control-plane role label and the
	// NoSchedule taint kubeadm gives them.
	ControlPlane bool
}

// ControlPlaneTaint is the taint kubeadm puts on control-plane nodes.
var ControlPlaneTaint = corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}

// SeedTopology is the homelab's shape: three stacked control-plane nodes,
// tainted, and two workers, spread over three zones.
func SeedTopology() []Node {
	return []Node{
		{Name: "cp-1", Zone: "zone-a", ControlPlane: true},
		{Name: "cp-2", Zone: "zone-b", ControlPlane: true},
		{Name: "cp-3", Zone: "zone-c", ControlPlane: true},
		{Name: "worker-1", Zone: "zone-a"},
		{Name: "worker-2", Zone: "zone-b"},
	}
}

// Cluster is a running cluster.
type Cluster struct {
	// Kubeconfig is the path of an admin (system:masters) kubeconfig.
	Kubeconfig string
	// Server is the API server URL.
	Server string
	Client client.Client
	REST   *rest.Config
	name   string
}

const fakeNodeAnnotation = "kwok.x-k8s.io/node"

// Start brings the cluster up in the process group g and returns once the
// API server is ready, the controllers run and the fake nodes are Ready.
func Start(ctx context.Context, g *proc.Group, cfg Config, log *slog.Logger) (*Cluster, error) {
	pkiDir := filepath.Join(cfg.WorkDir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	apiArgs := []string{}
	if !cfg.WebhookAdmission {
		apiArgs = append(apiArgs, "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook")
	}

	f, err := writePKI(pkiDir)
	if err != nil {
		return nil, err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	kubeconfig := filepath.Join(cfg.WorkDir, "admin.kubeconfig")
	if err := writeKubeconfig(kubeconfig, server, f.ca, f.adminCert, f.adminKey); err != nil {
		return nil, err
	}

	bin := func(name string) string { return filepath.Join(cfg.BinDir, name) }
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcd, err := g.Start(proc.Spec{
		Name: cfg.Name + "-etcd",
		Path: bin("etcd"),
		Args: []string{
			"--name=e2e",
			"--data-dir=" + filepath.Join(cfg.WorkDir, "etcd"),
			"--listen-client-urls=" + etcdURL,
			"--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=e2e=" + peerURL,
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
	})
	if err != nil {
		return nil, err
	}
	if err := proc.WaitFor(ctx, etcd, 200*time.Millisecond, httpOK(http.DefaultClient, etcdURL+"/health")); err != nil {
		return nil, fmt.Errorf("wait for etcd: %w", err)
	}
	log.Info("etcd ready", "cluster", cfg.Name, "url", etcdURL)

	apiserver, err := g.Start(proc.Spec{
		Name: cfg.Name + "-kube-apiserver",
		Path: bin("kube-apiserver"),
		Args: append([]string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(apiPort),
			"--cert-dir=" + pkiDir,
			"--tls-cert-file=" + f.servingCert,
			"--tls-private-key-file=" + f.servingKey,
			"--client-ca-file=" + f.ca,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + f.saPub,
			"--service-account-signing-key-file=" + f.saKey,
			"--service-cluster-ip-range=10.96.0.0/16",
			"--authorization-mode=Node,RBAC",
			"--allow-privileged=true",
			"--endpoint-reconciler-type=none",
			"--profiling=false",
		}, apiArgs...),
	})
	if err != nil {
		return nil, err
	}
	tlsClient, err := adminHTTPClient(f)
	if err != nil {
		return nil, err
	}
	if err := proc.WaitFor(ctx, apiserver, 500*time.Millisecond, httpOK(tlsClient, server+"/readyz")); err != nil {
		return nil, fmt.Errorf("wait for kube-apiserver: %w", err)
	}
	log.Info("kube-apiserver ready", "cluster", cfg.Name, "server", server)

	c, restCfg, err := kube.NewClient(kubeconfig)
	if err != nil {
		return nil, err
	}

	kcm, err := g.Start(proc.Spec{
		Name: cfg.Name + "-kube-controller-manager",
		Path: bin("kube-controller-manager"),
		Args: []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--service-account-private-key-file=" + f.saKey,
			"--root-ca-file=" + f.ca,
			"--controllers=*",
		},
	})
	if err != nil {
		return nil, err
	}
	scheduler, err := g.Start(proc.Spec{
		Name: cfg.Name + "-kube-scheduler",
		Path: bin("kube-scheduler"),
		Args: []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
		},
	})
	if err != nil {
		return nil, err
	}
	kwok, err := g.Start(proc.Spec{
		Name: cfg.Name + "-kwok",
		Path: bin("kwok"),
		Args: []string{
			"--kubeconfig=" + kubeconfig,
			"--config=" + cfg.KwokStages,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + fakeNodeAnnotation + "=fake",
			"--node-ip=127.0.0.1",
		},
	})
	if err != nil {
		return nil, err
	}

	cl := &Cluster{Kubeconfig: kubeconfig, Server: server, Client: c, REST: restCfg, name: cfg.Name}
	if err := cl.createNodes(ctx, cfg.Nodes); err != nil {
		return nil, err
	}
	if err := proc.WaitFor(ctx, kwok, 500*time.Millisecond, cl.nodesReady(len(cfg.Nodes))); err != nil {
		return nil, fmt.Errorf("wait for the fake nodes: %w", err)
	}
	log.Info("fake nodes ready", "cluster", cfg.Name, "nodes", len(cfg.Nodes))
	// The controller manager is working once its service-account
	// controller has made the default namespace's ServiceAccount.
	if err := proc.WaitFor(ctx, kcm, 500*time.Millisecond, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, err
	}); err != nil {
		return nil, fmt.Errorf("wait for kube-controller-manager: %w", err)
	}
	if exited, err := scheduler.Exited(); exited {
		return nil, fmt.Errorf("kube-scheduler exited (%v), see %s", err, scheduler.LogPath())
	}
	return cl, nil
}

// StartStatusSimulator starts a second kwok process that plays only the
// stages of the file: the status of custom resources whose operators do
// not run (their pods are kwok's, which run nothing). kwok resolves every
// kind of the file when it starts, so their CRDs must be served by then;
// the pod and node stages stay with the first kwok process.
func (cl *Cluster) StartStatusSimulator(ctx context.Context, g *proc.Group, binDir, stages string) error {
	spec := proc.Spec{
		Name: cl.name + "-kwok-status",
		Path: filepath.Join(binDir, "kwok"),
		Args: []string{
			"--kubeconfig=" + cl.Kubeconfig,
			"--config=" + stages,
			// kwok insists on a node selector; this one matches no node,
			// the nodes stay with the first process.
			"--manage-all-nodes=false",
			"--manage-nodes-with-label-selector=e2e.homelab.dev/kwok-status-simulator=none",
		},
	}
	// kwok exits at once when a kind cannot be resolved; give it the time
	// to list every kind, and fail with its log if it stopped. The API
	// server's discovery document can lag a CRD that the client's mapper
	// already serves, so a prompt exit is retried (the log keeps every
	// attempt).
	const attempts = 3
	for attempt := 1; ; attempt++ {
		p, err := g.Start(spec)
		if err != nil {
			return err
		}
		if err := sleep(ctx, 3*time.Second); err != nil {
			return err
		}
		exited, err := p.Exited()
		if !exited {
			return nil
		}
		if attempt == attempts {
			return fmt.Errorf("kwok status simulator exited %d times, the last with %v, see %s", attempts, err, p.LogPath())
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (cl *Cluster) createNodes(ctx context.Context, nodes []Node) error {
	for _, n := range nodes {
		labels := map[string]string{
			"kubernetes.io/hostname":      n.Name,
			"kubernetes.io/os":            "linux",
			"kubernetes.io/arch":          "amd64",
			"topology.kubernetes.io/zone": n.Zone,
			"type":                        "kwok",
		}
		var taints []corev1.Taint
		if n.ControlPlane {
			labels["node-role.kubernetes.io/control-plane"] = ""
			taints = append(taints, ControlPlaneTaint)
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        n.Name,
				Annotations: map[string]string{fakeNodeAnnotation: "fake"},
				Labels:      labels,
			},
			Spec: corev1.NodeSpec{Taints: taints},
		}
		if err := cl.Client.Create(ctx, node); err != nil {
			return fmt.Errorf("create node %s: %w", n.Name, err)
		}
		// Capacity lives in the status subresource. kwok writes the same
		// status (conditions, heartbeats) as soon as the node exists, so
		// the update retries on a conflict with the latest version.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := cl.Client.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
				return err
			}
			node.Status.Allocatable, node.Status.Capacity = nodeResources(), nodeResources()
			return cl.Client.Status().Update(ctx, node)
		})
		if err != nil {
			return fmt.Errorf("set capacity of node %s: %w", n.Name, err)
		}
	}
	return nil
}

func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
}

// nodesReady returns a check that n nodes are Ready.
func (cl *Cluster) nodesReady(n int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var nodes corev1.NodeList
		if err := cl.Client.List(ctx, &nodes); err != nil {
			return false, err
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < n {
			return false, fmt.Errorf("%d of %d nodes ready", ready, n)
		}
		return true, nil
	}
}

type pkiFiles struct {
	ca, servingCert, servingKey, adminCert, adminKey, saKey, saPub string
	caPEM                                                          []byte
}

func writePKI(dir string) (pkiFiles, error) {
	var f pkiFiles
	ca, err := tlstest.NewCA("homelab-e2e-ca")
	if err != nil {
		return f, err
	}
	f.caPEM = ca.PEM
	f.ca = filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(f.ca, ca.PEM, 0o644); err != nil {
		return f, fmt.Errorf("write CA: %w", err)
	}
	serving, err := ca.Issue(tlstest.LeafOptions{CommonName: "kube-apiserver", Usage: tlstest.Server, Hosts: []string{
		"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
		"127.0.0.1", "10.96.0.1",
	}})
	if err != nil {
		return f, err
	}
	if f.servingCert, f.servingKey, err = tlstest.WriteLeaf(dir, "apiserver", serving); err != nil {
		return f, err
	}
	// The system:masters group makes the admin a cluster administrator.
	admin, err := ca.Issue(tlstest.LeafOptions{CommonName: "e2e-admin", Usage: tlstest.Client, Groups: []string{"system:masters"}})
	if err != nil {
		return f, err
	}
	if f.adminCert, f.adminKey, err = tlstest.WriteLeaf(dir, "admin", admin); err != nil {
		return f, err
	}
	saKey, saPub, err := serviceAccountKey()
	if err != nil {
		return f, err
	}
	f.saKey, f.saPub = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	if err := os.WriteFile(f.saKey, saKey, 0o600); err != nil {
		return f, fmt.Errorf("write service-account key: %w", err)
	}
	if err := os.WriteFile(f.saPub, saPub, 0o644); err != nil {
		return f, fmt.Errorf("write service-account public key: %w", err)
	}
	return f, nil
}

// serviceAccountKey returns a PEM-encoded RSA private key and its public
// key, for signing and verifying service-account tokens.
func serviceAccountKey() (private, public []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encode service-account public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil
}

func writeKubeconfig(path, server, ca, cert, key string) error {
	cfg := strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: e2e",
		"  cluster:",
		"    server: " + server,
		"    certificate-authority: " + ca,
		"users:",
		"- name: e2e-admin",
		"  user:",
		"    client-certificate: " + cert,
		"    client-key: " + key,
		"contexts:",
		"- name: e2e",
		"  context:",
		"    cluster: e2e",
		"    user: e2e-admin",
		"current-context: e2e",
		"",
	}, "\n")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

func adminHTTPClient(f pkiFiles) (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(f.adminCert, f.adminKey)
	if err != nil {
		return nil, fmt.Errorf("load admin certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.caPEM)
	return &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		},
	}, nil
}

// httpOK returns a check that a GET of url answers 200.
func httpOK(c *http.Client, url string) func(context.Context) (bool, error) {
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
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
		}
		return true, nil
	}
}

// FreePorts returns n distinct free TCP ports on 127.0.0.1.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
