// Package synth generates synthetic Flux repositories of a given size for
// benchmarks. They are shaped like the homelab repositories people publish
// rather than one application copied N times: applications are grouped in
// namespaces, each group chains its Kustomizations with dependsOn, half of
// the groups declare their Kustomizations in clusters/ (flux2-kustomize-
// helm-example style) and half in a ks.yaml beside the application that a
// parent Kustomization renders (cluster-template style), and four shapes
// alternate: a Deployment behind an HTTPRoute, a HelmRelease with
// valuesFrom (HelmRepository or OCIRepository chartRef), an overlay of a
// shared base with patches, a StatefulSet with a backup CronJob, and a
// directory of plain manifests without a kustomization.yaml (Flux generates
// one). Every application uses postBuild substitution; all but the plain
// ones pull in a component. The repository is healthy: the validator
// reports no warning or error on it.
package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// groupSize is the number of applications per namespace and dependsOn chain.
const groupSize = 8

// Shapes are the application layouts, taken in turn by Generate.
var Shapes = []string{"web", "helm", "overlay", "stateful", "web", "helm-oci", "plain"}

// App is one application and its Flux Kustomization.
type App struct {
	Name, Group, Shape string
	// DependsOn is the previous application of the group, or the shared
	// infrastructure for the first one.
	DependsOn string
	// Replicas varies between applications so no two renders are equal.
	Replicas int
	// Nested: the Kustomization is declared in the application's ks.yaml
	// and rendered by its group's Kustomization, not listed in clusters/.
	Nested bool
}

// Generate writes a repository with n application Kustomizations into dir,
// in every shape.
func Generate(dir string, n int) error {
	return GenerateShapes(dir, n, Shapes)
}

// GenerateShapes writes a repository with n application Kustomizations into
// dir whose applications take the given shapes in turn.
func GenerateShapes(dir string, n int, shapes []string) error {
	if n < 1 {
		return fmt.Errorf("need at least one Kustomization, got %d", n)
	}
	if len(shapes) == 0 {
		return fmt.Errorf("no shape given; shapes: %s", strings.Join(Shapes, ", "))
	}
	for _, sh := range shapes {
		if !slices.Contains(Shapes, sh) {
			return fmt.Errorf("unknown shape %q; shapes: %s", sh, strings.Join(Shapes, ", "))
		}
	}
	w := &writer{root: dir}
	for name, body := range static {
		w.file(name, body)
	}
	groups := map[string][]App{}
	var order []string
	for i := range n {
		g := fmt.Sprintf("team-%03d", i/groupSize)
		a := App{
			Name:     fmt.Sprintf("app-%04d", i),
			Group:    g,
			Shape:    shapes[i%len(shapes)],
			Replicas: 1 + i%3,
			Nested:   (i/groupSize)%2 == 1,
		}
		if prev := groups[g]; len(prev) > 0 {
			a.DependsOn = prev[len(prev)-1].Name
		} else {
			order = append(order, g)
		}
		groups[g] = append(groups[g], a)
	}
	res := []string{"flux-system", "cluster-vars.yaml", "infrastructure.yaml"}
	for _, g := range order {
		apps := groups[g]
		w.tmpl("apps/"+g+"/namespace.yaml", namespaceTmpl, apps[0])
		w.tmpl("clusters/bench/apps/"+g+"-namespace.yaml", groupKsTmpl, apps[0])
		res = append(res, "apps/"+g+"-namespace.yaml")
		if apps[0].Nested {
			groupRes := []string{"namespace.yaml"}
			for _, a := range apps {
				groupRes = append(groupRes, a.Name+"/ks.yaml")
				w.tmpl("apps/"+g+"/"+a.Name+"/ks.yaml", ksTmpl, a)
			}
			w.file("apps/"+g+"/kustomization.yaml", kustomization(groupRes...))
		} else {
			var b strings.Builder
			for _, a := range apps {
				b.WriteString("---\n")
				w.tmplTo(&b, ksTmpl, a)
			}
			w.file("clusters/bench/apps/"+g+".yaml", b.String())
			w.file("apps/"+g+"/kustomization.yaml", kustomization("namespace.yaml"))
			res = append(res, "apps/"+g+".yaml")
		}
		for _, a := range apps {
			w.app(a)
		}
	}
	w.file("clusters/bench/kustomization.yaml", kustomization(res...))
	return w.err
}

// app writes one application's manifests under apps/<group>/<name>/app.
func (w *writer) app(a App) {
	dir := "apps/" + a.Group + "/" + a.Name + "/app/"
	common := "../../../../components/common"
	switch a.Shape {
	case "web":
		w.tmpl(dir+"workload.yaml", webTmpl, a)
		w.tmpl(dir+"route.yaml", routeTmpl, a)
		w.file(dir+"kustomization.yaml", kustomization("workload.yaml", "route.yaml")+
			"components:\n  - "+common+"\nconfigMapGenerator:\n  - name: "+a.Name+"-env\n    envs: [app.env]\n"+
			"generatorOptions:\n  disableNameSuffixHash: true\n")
		w.file(dir+"app.env", "LOG_FORMAT=json\nCACHE_SIZE="+fmt.Sprint(64*a.Replicas)+"\n")
	case "helm", "helm-oci":
		w.tmpl(dir+"helmrelease.yaml", helmTmpl, a)
		w.tmpl(dir+"route.yaml", routeTmpl, a)
		w.tmpl(dir+"values.yaml", valuesTmpl, a)
		w.file(dir+"kustomization.yaml", kustomization("helmrelease.yaml", "route.yaml")+
			"components:\n  - "+common+"\nconfigMapGenerator:\n  - name: "+a.Name+"-values\n    files: [values.yaml]\n"+
			"generatorOptions:\n  disableNameSuffixHash: true\n")
	case "overlay":
		w.tmpl(dir+"route.yaml", routeTmpl, a)
		w.file(dir+"kustomization.yaml", kustomization("../../../../base/worker", "route.yaml")+
			"components:\n  - "+common+"\nnamePrefix: "+a.Name+"-\nlabels:\n  - pairs:\n      app.kubernetes.io/instance: "+a.Name+"\n"+
			"patches:\n  - path: replicas.yaml\n  - target:\n      kind: Service\n      name: worker\n    patch: |-\n"+
			"      - op: replace\n        path: /spec/ports/0/port\n        value: 80\n")
		w.tmpl(dir+"replicas.yaml", replicasPatchTmpl, a)
	case "plain":
		// No kustomization.yaml: kustomize-controller generates one
		// listing the files, so the component's objects are written out.
		w.tmpl(dir+"workload.yaml", webTmpl, a)
		w.tmpl(dir+"route.yaml", routeTmpl, a)
		w.file(dir+"network.yaml", static["components/common/dns.yaml"])
		w.file(dir+"env.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-env\ndata:\n  LOG_FORMAT: json\n  CACHE_SIZE: \""+fmt.Sprint(64*a.Replicas)+"\"\n")
	case "stateful":
		w.tmpl(dir+"statefulset.yaml", statefulTmpl, a)
		w.tmpl(dir+"route.yaml", routeTmpl, a)
		w.tmpl(dir+"backup.yaml", backupTmpl, a)
		w.file(dir+"kustomization.yaml", kustomization("statefulset.yaml", "route.yaml", "backup.yaml")+"components:\n  - "+common+"\n")
	}
}

func kustomization(resources ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	return b.String()
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

func (w *writer) tmpl(rel string, t *template.Template, a App) {
	var b strings.Builder
	w.tmplTo(&b, t, a)
	w.file(rel, b.String())
}

func (w *writer) tmplTo(b *strings.Builder, t *template.Template, a App) {
	if w.err != nil {
		return
	}
	if err := t.Execute(b, a); err != nil {
		w.err = fmt.Errorf("template %s for %s: %w", t.Name(), a.Name, err)
	}
}

func parse(name, text string) *template.Template {
	return template.Must(template.New(name).Parse(text))
}

// static are the files every generated repository has: the bootstrap, the
// cluster variables, the infrastructure (chart sources, the Gateway) and the
// shared base and component the applications use.
var static = map[string]string{
	"clusters/bench/flux-system/gotk-sync.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
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
`,
	"clusters/bench/flux-system/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - gotk-sync.yaml\n",
	"clusters/bench/cluster-vars.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-vars
  namespace: flux-system
data:
  DOMAIN: bench.example.org
  LOG_LEVEL: info
  TIMEZONE: Europe/Paris
  STORAGE_CLASS: local-path
`,
	"clusters/bench/infrastructure.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra-sources
  namespace: flux-system
spec:
  interval: 1h
  retryInterval: 1m
  timeout: 5m
  prune: true
  path: ./infrastructure/sources
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra-network
  namespace: flux-system
spec:
  dependsOn:
    - name: infra-sources
  interval: 1h
  retryInterval: 1m
  timeout: 5m
  prune: true
  wait: true
  path: ./infrastructure/network
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`,
	"infrastructure/sources/kustomization.yaml": kustomization("charts.yaml"),
	"infrastructure/sources/charts.yaml": `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: bench-charts
  namespace: flux-system
spec:
  interval: 12h
  url: https://charts.example.invalid
`,
	"infrastructure/network/kustomization.yaml": kustomization("namespace.yaml", "gateway.yaml"),
	"infrastructure/network/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: network\n",
	"infrastructure/network/gateway.yaml": `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: bench
spec:
  controllerName: example.org/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: internal
  namespace: network
spec:
  gatewayClassName: bench
  listeners:
    - name: http
      hostname: "*.${DOMAIN}"
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: All
`,
	"components/common/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - dns.yaml
labels:
  - pairs:
      app.kubernetes.io/part-of: ${GROUP}
`,
	"components/common/dns.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP}-dns
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  policyTypes: ["Egress"]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
      ports:
        - port: 53
          protocol: UDP
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP}-egress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  policyTypes: ["Egress"]
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
            except: ["10.0.0.0/8"]
      ports:
        - port: 443
`,
	"base/worker/kustomization.yaml": kustomization("worker.yaml"),
	"base/worker/worker.yaml": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: worker
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: worker
data:
  QUEUE: ${APP}
  LOG_LEVEL: ${LOG_LEVEL}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
  labels:
    app.kubernetes.io/name: ${APP}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${APP}
    spec:
      serviceAccountName: ${APP}-worker
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: worker
          image: ghcr.io/example/worker:2.3.1@sha256:1111111111111111111111111111111111111111111111111111111111111111
          envFrom:
            - configMapRef:
                name: ${APP}-worker
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
            limits:
              memory: 128Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
---
apiVersion: v1
kind: Service
metadata:
  name: worker
spec:
  selector:
    app.kubernetes.io/name: ${APP}
  ports:
    - name: http
      port: 8080
      targetPort: http
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: worker
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: worker-ingress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: network
      ports:
        - port: 8080
`,
}

var namespaceTmpl = parse("namespace", `apiVersion: v1
kind: Namespace
metadata:
  name: {{.Group}}
  labels:
    app.kubernetes.io/part-of: {{.Group}}
`)

// groupKsTmpl applies a group's namespace (and, for nested groups, the
// Kustomizations declared in its applications' ks.yaml).
var groupKsTmpl = parse("group", `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {{.Group}}
  namespace: flux-system
spec:
  interval: 1h
  prune: true
  path: ./apps/{{.Group}}
  sourceRef:
    kind: GitRepository
    name: flux-system
`)

var ksTmpl = parse("ks", `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: {{.Name}}
  namespace: flux-system
spec:
  targetNamespace: {{.Group}}
  dependsOn:
    - name: {{.Group}}
{{- if .DependsOn}}
    - name: {{.DependsOn}}
{{- else}}
    - name: infra-network
{{- end}}
  interval: 1h
  retryInterval: 2m
  timeout: 5m
  prune: true
  wait: {{if eq .Shape "stateful"}}true{{else}}false{{end}}
  path: ./apps/{{.Group}}/{{.Name}}/app
  sourceRef:
    kind: GitRepository
    name: flux-system
  postBuild:
    substitute:
      APP: {{.Name}}
      GROUP: {{.Group}}
      REPLICAS: "{{.Replicas}}"
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
`)

var routeTmpl = parse("route", `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${APP}
spec:
  parentRefs:
    - name: internal
      namespace: network
      sectionName: http
  hostnames:
    - ${APP}.${DOMAIN}
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /
      backendRefs:
        - name: {{if eq .Shape "overlay"}}${APP}-worker{{else}}${APP}{{end}}
          port: 80
`)

var webTmpl = parse("web", `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${APP}
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${APP}-config
data:
  LOG_LEVEL: ${LOG_LEVEL}
  TZ: ${TIMEZONE}
  PUBLIC_URL: https://${APP}.${DOMAIN}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APP}
  labels:
    app.kubernetes.io/name: ${APP}
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${APP}
    spec:
      serviceAccountName: ${APP}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: app
          image: ghcr.io/example/{{.Name}}:1.{{.Replicas}}.0@sha256:0000000000000000000000000000000000000000000000000000000000000000
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: ${APP}-config
            - configMapRef:
                name: ${APP}-env
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
  name: ${APP}
spec:
  selector:
    app.kubernetes.io/name: ${APP}
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ${APP}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: ${APP}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: ${APP}
  minReplicas: ${REPLICAS}
  maxReplicas: 6
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 80
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP}-ingress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: network
      ports:
        - port: 8080
`)

var helmTmpl = parse("helm", `{{if eq .Shape "helm-oci" -}}
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: ${APP}
spec:
  interval: 12h
  url: oci://ghcr.io/example/charts/{{.Name}}
  ref:
    tag: 1.{{.Replicas}}.0
---
{{end -}}
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ${APP}
spec:
  interval: 1h
  timeout: 5m
{{- if eq .Shape "helm-oci"}}
  chartRef:
    kind: OCIRepository
    name: ${APP}
{{- else}}
  chart:
    spec:
      chart: {{.Name}}
      version: 1.{{.Replicas}}.0
      sourceRef:
        kind: HelmRepository
        name: bench-charts
        namespace: flux-system
{{- end}}
  install:
    remediation:
      retries: 3
  upgrade:
    cleanupOnFail: true
    remediation:
      retries: 3
  valuesFrom:
    - kind: ConfigMap
      name: ${APP}-values
  values:
    replicaCount: ${REPLICAS}
    service:
      port: 80
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${APP}
automountServiceAccountToken: false
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP}-ingress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: network
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ${APP}
spec:
  minAvailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
`)

var valuesTmpl = parse("values", `image:
  tag: 1.{{.Replicas}}.0
serviceAccount:
  create: false
  name: {{.Name}}
ingress:
  enabled: false
podSecurityContext:
  runAsNonRoot: true
resources:
  requests:
    cpu: 10m
    memory: 64Mi
`)

var replicasPatchTmpl = parse("replicas", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: worker
spec:
  replicas: ${REPLICAS}
  template:
    spec:
      containers:
        - name: worker
          env:
            - name: WORKER_ID
              value: {{.Name}}
`)

var statefulTmpl = parse("stateful", `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${APP}
automountServiceAccountToken: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${APP}-config
data:
  TZ: ${TIMEZONE}
  DATA_DIR: /data
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${APP}
  labels:
    app.kubernetes.io/name: ${APP}
spec:
  serviceName: ${APP}-headless
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${APP}
    spec:
      serviceAccountName: ${APP}
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        fsGroup: 65532
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: db
          image: ghcr.io/example/db:16.{{.Replicas}}@sha256:2222222222222222222222222222222222222222222222222222222222222222
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: ${APP}-config
          volumeMounts:
            - name: data
              mountPath: /data
          resources:
            requests:
              cpu: 50m
              memory: 128Mi
            limits:
              memory: 256Mi
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        storageClassName: ${STORAGE_CLASS}
        resources:
          requests:
            storage: {{.Replicas}}Gi
---
apiVersion: v1
kind: Service
metadata:
  name: ${APP}-headless
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: ${APP}
  ports:
    - name: http
      port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: ${APP}
spec:
  selector:
    app.kubernetes.io/name: ${APP}
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: ${APP}-ingress
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/name: ${APP}
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: network
      ports:
        - port: 8080
`)

var backupTmpl = parse("backup", `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ${APP}-backup
spec:
  schedule: "{{.Replicas}} 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          serviceAccountName: ${APP}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            seccompProfile:
              type: RuntimeDefault
          containers:
            - name: backup
              image: ghcr.io/example/backup:1.0.0@sha256:3333333333333333333333333333333333333333333333333333333333333333
              args: ["--target", "${APP}-headless:8080"]
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
`)
