// Package synth generates synthetic Flux repositories of a given size for
// benchmarks: one cluster whose entry point declares N application
// Kustomizations, each rendering a small, healthy application (Namespace,
// ConfigMap, Deployment, Service, NetworkPolicy, PodDisruptionBudget) with
// postBuild substitution, after a shared infrastructure Kustomization.
package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Generate writes a repository with n application Kustomizations into dir.
func Generate(dir string, n int) error {
	if n < 1 {
		return fmt.Errorf("need at least one Kustomization, got %d", n)
	}
	w := &writer{root: dir}
	w.file("clusters/bench/flux-system/gotk-sync.yaml", gotkSync)
	w.file("clusters/bench/flux-system/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-sync.yaml\n")
	w.file("clusters/bench/cluster-vars.yaml", clusterVars)
	w.file("clusters/bench/infrastructure.yaml", infraKustomization)
	w.file("infrastructure/shared/namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shared\n")
	var apps strings.Builder
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		if i > 0 {
			apps.WriteString("---\n")
		}
		fmt.Fprintf(&apps, appKustomization, name, name)
		w.file("apps/"+name+"/kustomization.yaml", fmt.Sprintf(appKustomize, name))
		w.file("apps/"+name+"/namespace.yaml", fmt.Sprintf(appNamespace, name))
		w.file("apps/"+name+"/workload.yaml", fmt.Sprintf(appWorkload, name, name, name, name, name, name, name, name, name, name, name))
		w.file("apps/"+name+"/network.yaml", fmt.Sprintf(appNetwork, name, name, name))
	}
	w.file("clusters/bench/apps.yaml", apps.String())
	return w.err
}

type writer struct {
	root string
	err  error
}

func (w *writer) file(rel, content string) {
	if w.err != nil {
		return
	}
	p := filepath.Join(w.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		w.err = fmt.Errorf("create %s: %w", rel, err)
		return
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		w.err = fmt.Errorf("write %s: %w", rel, err)
	}
}

const gotkSync = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: https://example.invalid/bench.git
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/bench
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

const clusterVars = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  DOMAIN: bench.example.org
  LOG_LEVEL: info
`

const infraKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra
  namespace: flux-system
spec:
  interval: 1h
  retryInterval: 1m
  timeout: 5m
  prune: true
  wait: true
  path: ./infrastructure/shared
  sourceRef:
    kind: GitRepository
    name: flux-system
`

const appKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: flux-system
spec:
  dependsOn:
    - name: infra
  interval: 1h
  retryInterval: 1m
  timeout: 5m
  prune: true
  wait: true
  path: ./apps/%s
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      REPLICAS: "2"
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`

const appKustomize = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
  - namespace.yaml
  - workload.yaml
  - network.yaml
`

const appNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: %s
`

const appWorkload = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s-config
data:
  LOG_LEVEL: ${LOG_LEVEL}
  PUBLIC_URL: https://%s.${DOMAIN}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  labels:
    app.kubernetes.io/name: %s
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels:
      app.kubernetes.io/name: %s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %s
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: ghcr.io/example/app:1.0.0@sha256:0000000000000000000000000000000000000000000000000000000000000000
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: %s-config
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              memory: 64Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
---
apiVersion: v1
kind: Service
metadata:
  name: %s
spec:
  selector:
    app.kubernetes.io/name: %s
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: %s
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: %s
`

const appNetwork = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: ["Ingress", "Egress"]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: %s-ingress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: %s
  ingress:
    - ports:
        - port: 8080
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  labels:
    app.kubernetes.io/part-of: %s
spec:
  podSelector: {}
  egress:
    - ports:
        - port: 53
          protocol: UDP
`
