package discover

import (
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

const fluxInstance = `apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux}
spec:
  sync:
    path: deploy/fleet/prod
`

func TestFind(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		explicit []string
		want     []string // cluster=path
		wantErr  bool
	}{
		{name: "every clusters/<name>", files: map[string]string{"clusters/a/x.yaml": "", "clusters/b/x.yaml": "", "clusters/.hidden/x.yaml": ""}, want: []string{"a=clusters/a", "b=clusters/b"}},
		{name: "cluster-template layout", files: map[string]string{"kubernetes/flux/cluster/ks.yaml": ""}, want: []string{"kubernetes/flux/cluster=kubernetes/flux/cluster"}},
		{name: "FluxInstance sync.path", files: map[string]string{"deploy/fleet/prod/ks.yaml": "", "bootstrap/values.yaml": fluxInstance, "bootstrap/other.yaml": "anchors: &a {x: 1}\nuse: *a\n"}, want: []string{"deploy/fleet/prod=deploy/fleet/prod"}},
		{name: "flux-instance chart values", files: map[string]string{"kubernetes/clusters/main/apps.yaml": "", "kubernetes/clusters/main/flux-instance/helmrelease.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: flux-instance}\nspec:\n  chartRef: {kind: OCIRepository, name: flux-instance}\n  values:\n    instance:\n      sync:\n        path: kubernetes/clusters/main\n"}, want: []string{"kubernetes/clusters/main=kubernetes/clusters/main"}},
		{name: "clusters/<name> one level down", files: map[string]string{"kubernetes/clusters/c0/ks.yaml": "", "kubernetes/clusters/c1/ks.yaml": "", "docs/clusters/x.md": "", "node_modules/clusters/a/x.yaml": ""}, want: []string{"kubernetes/clusters/c0=kubernetes/clusters/c0", "kubernetes/clusters/c1=kubernetes/clusters/c1"}},
		{name: "clusters/<name> at the root wins over one level down", files: map[string]string{"clusters/a/x.yaml": "", "kubernetes/clusters/c0/ks.yaml": ""}, want: []string{"a=clusters/a"}},
		{name: "a bootstrap Kustomization that renders its own directory", files: map[string]string{
			"kubernetes/cluster-0/flux/config/cluster.yaml": "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cluster, namespace: flux-system}\nspec:\n  path: ./kubernetes/cluster-0/flux\n  sourceRef: {kind: GitRepository, name: repo}\n",
			"kubernetes/cluster-0/flux/apps.yaml":           "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\nspec:\n  path: ./kubernetes/cluster-0/apps\n  sourceRef: {kind: GitRepository, name: repo}\n",
			"kubernetes/cluster-0/flux/nested/self.yaml":    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: nested, namespace: flux-system}\nspec:\n  path: ./kubernetes/cluster-0/flux/nested\n",
			"kubernetes/nas-1/flux/config/cluster.yaml":     "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cluster, namespace: flux-system}\nspec:\n  path: kubernetes/nas-1/flux\n",
			"_archive/old/flux/cluster.yaml":                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: cluster, namespace: flux-system}\nspec:\n  path: ./_archive/old/flux\n",
		}, want: []string{"kubernetes/cluster-0/flux=kubernetes/cluster-0/flux", "kubernetes/nas-1/flux=kubernetes/nas-1/flux"}},
		{name: "a bootstrap inside clusters/<name> replaces it", files: map[string]string{
			"kube/clusters/bio/talos/talconfig.yaml": "clusterName: bio\n",
			"kube/clusters/bio/flux/flux-repo.yaml":  gitRepo("flux-system") + selfKs("cluster", "./kube/clusters/bio/flux", "flux-system"),
		}, want: []string{"kube/clusters/bio/flux=kube/clusters/bio/flux"}},
		{name: "an application's own ks.yaml is not a cluster", files: map[string]string{
			"kubernetes/main/flux/config/cluster.yaml":     gitRepo("home") + selfKs("cluster", "./kubernetes/main/flux", "home"),
			"kubernetes/main/apps/db/mariadb/ks.yaml":      selfKs("mariadb", "./kubernetes/main/apps/db/mariadb/", "home"),
			"kubernetes/main/apps/db/mariadb/release.yaml": "",
		}, want: []string{"kubernetes/main/flux=kubernetes/main/flux"}},
		{name: "flux bootstrap --path=./", files: map[string]string{
			"flux-system/gotk-sync.yaml":        gitRepo("flux-system") + selfKs("flux-system", "./", "flux-system"),
			"kube-system/volsync/ks.yaml":       selfKs("volsync", "./kube-system/volsync", "flux-system"),
			"monitoring/dashboards/remote.yaml": gitRepo("flux2-monitoring-example") + selfKs("dashboards", "./", "flux2-monitoring-example"),
		}, want: []string{".=."}},
		{name: "a FluxInstance sync.path inside clusters/<name> replaces it", files: map[string]string{
			"clusters/prod/config/flux.yaml":          fluxInstanceSync("clusters/prod/config", "cluster-repository"),
			"clusters/prod/vars/vars.yaml":            "",
			"clusters/test/config/flux.yaml":          fluxInstanceSync("clusters/test/config", ""),
			"clusters/test/config/kustomization.yaml": "",
		}, want: []string{"clusters/prod/config=clusters/prod/config", "clusters/test/config=clusters/test/config"}},
		{name: "an old bootstrap that renders the Flux Operator's sync path is one cluster with it", files: map[string]string{
			"kubernetes/flux/config/cluster.yaml":                   gitRepo("flux-system") + selfKs("cluster", "./kubernetes/flux", "flux-system"),
			"kubernetes/flux/cluster/ks.yaml":                       selfKs("cluster-apps", "./kubernetes/apps", "flux-system"),
			"kubernetes/flux/cluster/kustomization.yaml":            "resources: [./ks.yaml]\n",
			"kubernetes/flux/repositories/helm.yaml":                "",
			"kubernetes/apps/flux-system/instance/helmrelease.yaml": fluxInstanceSync("kubernetes/flux/cluster", ""),
		}, want: []string{"kubernetes/flux=kubernetes/flux"}},
		{name: "a bootstrap whose kustomization leaves out the sync path is another cluster", files: map[string]string{
			"kubernetes/flux/config/cluster.yaml":                   gitRepo("flux-system") + selfKs("cluster", "./kubernetes/flux", "flux-system"),
			"kubernetes/flux/kustomization.yaml":                    "resources:\n  - ./config\n  - ./repositories/helm.yaml\n",
			"kubernetes/flux/cluster/ks.yaml":                       selfKs("cluster-apps", "./kubernetes/apps", "flux-system"),
			"kubernetes/flux/repositories/helm.yaml":                "",
			"kubernetes/apps/flux-system/instance/helmrelease.yaml": fluxInstanceSync("kubernetes/flux/cluster", ""),
		}, want: []string{"kubernetes/flux=kubernetes/flux", "kubernetes/flux/cluster=kubernetes/flux/cluster"}},
		{name: "a root bootstrap renders clusters/<name> listed in its kustomization", files: map[string]string{
			"flux-system/gotk-sync.yaml": gitRepo("flux-system") + selfKs("flux-system", "./", "flux-system"),
			"kustomization.yaml":         "resources: [flux-system, clusters/a/apps.yaml]\n",
			"clusters/a/apps.yaml":       "",
			"clusters/b/apps.yaml":       "",
		}, want: []string{".=.", "b=clusters/b"}},
		{name: "explicit wins", files: map[string]string{"clusters/a/x.yaml": "", "env/prod/x.yaml": ""}, explicit: []string{"./env/prod/"}, want: []string{"env/prod=env/prod"}},
		{name: "explicit must exist", files: map[string]string{"clusters/a/x.yaml": ""}, explicit: []string{"nope"}, wantErr: true},
		{name: "nothing found", files: map[string]string{"README.md": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Find(testfs.Tree(t, tt.files), tt.explicit, "flag")
			eps := res.EntryPoints
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			var got []string
			for _, ep := range eps {
				got = append(got, ep.Cluster+"="+ep.Path)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func gitRepo(name string) string {
	return "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: " + name + ", namespace: flux-system}\nspec: {url: https://example.com/x}\n---\n"
}

func selfKs(name, path, source string) string {
	return "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\nspec:\n  path: " + path + "\n  sourceRef: {kind: GitRepository, name: " + source + "}\n"
}

func fluxInstanceSync(path, name string) string {
	return "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\nspec:\n  sync:\n    kind: GitRepository\n    name: '" + name + "'\n    path: " + path + "\n"
}

// Entry points say why they were chosen, and a FluxInstance's entry point
// names the source and Kustomization its sync creates.
func TestEntryPointReasons(t *testing.T) {
	res, err := Find(testfs.Tree(t, map[string]string{
		"clusters/prod/config/flux.yaml": fluxInstanceSync("clusters/prod/config", "cluster-repository"),
		"kube/flux/sync.yaml":            "",
	}), nil, "")
	if err != nil || len(res.EntryPoints) != 1 {
		t.Fatalf("%+v, %v", res.EntryPoints, err)
	}
	ep := res.EntryPoints[0]
	if ep.SourceKind != "GitRepository" || ep.SourceName != "cluster-repository" {
		t.Errorf("source %s/%s, want GitRepository/cluster-repository", ep.SourceKind, ep.SourceName)
	}
	if want := "FluxInstance clusters/prod/config/flux.yaml, inside clusters/prod"; ep.From != want {
		t.Errorf("From %q, want %q", ep.From, want)
	}
}

// A values file of the flux-instance chart (passed by valuesFrom or a
// helmfile) names the entry point, its source and the Flux version.
func TestFluxInstanceValuesFile(t *testing.T) {
	res, err := Find(testfs.Tree(t, map[string]string{
		"kubernetes/flux/cluster/ks.yaml": "",
		"kubernetes/apps/flux-system/flux-instance/app/helm-values.yaml": "instance:\n  distribution: {version: 2.6.4}\n" +
			"  sync: {kind: GitRepository, name: home-kubernetes, path: kubernetes/flux/cluster}\n",
	}), nil, "")
	if err != nil || len(res.EntryPoints) != 1 || !res.FluxOperator {
		t.Fatalf("%+v, operator %v, %v", res.EntryPoints, res.FluxOperator, err)
	}
	ep := res.EntryPoints[0]
	if ep.Path != "kubernetes/flux/cluster" || ep.SourceName != "home-kubernetes" || ep.FluxVersion != "2.6.4" {
		t.Errorf("entry point %+v; want kubernetes/flux/cluster from GitRepository home-kubernetes, Flux 2.6.4", ep)
	}
}

// A values file that leaves the Flux version to the chart still names the
// entry point, also outside the conventional directories.
func TestFluxInstanceValuesFileWithoutVersion(t *testing.T) {
	res, err := Find(testfs.Tree(t, map[string]string{
		"kubernetes/cluster/ks.yaml": "",
		"kubernetes/apps/flux-system/instance/ks/helm-values.yaml": "instance:\n  components: [source-controller]\n" +
			"  sync: {kind: GitRepository, url: https://example.com/repo, ref: refs/heads/main, path: kubernetes/cluster}\n",
		"kubernetes/apps/other/values.yaml": "instance:\n  sync: {path: kubernetes/apps}\n", // not the chart's shape
	}), nil, "")
	if err != nil || len(res.EntryPoints) != 1 || !res.FluxOperator {
		t.Fatalf("%+v, operator %v, %v", res.EntryPoints, res.FluxOperator, err)
	}
	if ep := res.EntryPoints[0]; ep.Path != "kubernetes/cluster" || ep.FluxVersion != "" {
		t.Errorf("entry point %+v; want kubernetes/cluster, no Flux version", ep)
	}
}

func TestFluxOperator(t *testing.T) {
	res, err := Find(testfs.Tree(t, map[string]string{"clusters/a/x.yaml": "", "bootstrap/fi.yaml": fluxInstance}), nil, "")
	if err != nil || !res.FluxOperator {
		t.Errorf("FluxOperator = %v, %v; want true", res.FluxOperator, err)
	}
	res, err = Find(testfs.Tree(t, map[string]string{"clusters/a/x.yaml": ""}), nil, "")
	if err != nil || res.FluxOperator {
		t.Errorf("FluxOperator = %v, %v; want false", res.FluxOperator, err)
	}
}

func TestBootstrapCharts(t *testing.T) {
	res, err := Find(testfs.Tree(t, map[string]string{
		"clusters/a/x.yaml":                 "",
		"bootstrap/helmfile.d/00-crds.yaml": "releases:\n  - name: cert-manager\n    namespace: cert-manager\n  - name: prom\n    chart: oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack\n    version: '{{ .Values.v }}'\n",
		"apps/helm/values.yaml":             "releases:\n  - name: not-a-helmfile\n",
	}), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cert-manager", "kube-prometheus-stack", "prom"}
	if len(res.BootstrapCharts) != len(want) {
		t.Fatalf("charts %v, want %v", res.BootstrapCharts, want)
	}
	for i := range want {
		if res.BootstrapCharts[i] != want[i] {
			t.Fatalf("charts %v, want %v", res.BootstrapCharts, want)
		}
	}
}
