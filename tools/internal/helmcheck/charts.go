package helmcheck

import (
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// chartCRDGroups lists, for well-known charts, the API groups of the CRDs
// they install. A custom resource of such a group is satisfied by a
// HelmRelease of the chart.
var chartCRDGroups = map[string][]string{
	"cert-manager":                         {"cert-manager.io", "acme.cert-manager.io"},
	"traefik":                              {"traefik.io", "traefik.containo.us", "hub.traefik.io", "gateway.networking.k8s.io"},
	"traefik-crds":                         {"traefik.io", "traefik.containo.us", "hub.traefik.io", "gateway.networking.k8s.io"},
	"rabbitmq-cluster-operator":            {"rabbitmq.com"},
	"rabbitmq-messaging-topology-operator": {"rabbitmq.com"},
	"community-operator":                   {"mongodbcommunity.mongodb.com"},
	"community-operator-crds":              {"mongodbcommunity.mongodb.com"},
	"mongodb-kubernetes":                   {"mongodbcommunity.mongodb.com", "mongodb.com"},
	"mongodb-kubernetes-operator":          {"mongodbcommunity.mongodb.com"},
	"enterprise-operator":                  {"mongodb.com"},
	"kube-prometheus-stack":                {"monitoring.coreos.com"},
	"prometheus-operator-crds":             {"monitoring.coreos.com"},
	"external-secrets":                     {"external-secrets.io", "generators.external-secrets.io"},
	"cilium":                               {"cilium.io"},
	"longhorn":                             {"longhorn.io"},
	"rook-ceph":                            {"ceph.rook.io"},
	"volsync":                              {"volsync.backube"},
	"snapshot-controller":                  {"snapshot.storage.k8s.io", "groupsnapshot.storage.k8s.io"},
	"keda":                                 {"keda.sh", "eventing.keda.sh"},
	"gateway-helm":                         {"gateway.envoyproxy.io", "gateway.networking.k8s.io"},
	"envoy-gateway":                        {"gateway.envoyproxy.io", "gateway.networking.k8s.io"},
	"metallb":                              {"metallb.io"},
	"external-dns":                         {"externaldns.k8s.io"},
	"flux-operator":                        {"fluxcd.controlplane.io"},
	"flux2":                                {"source.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io"},
	"dragonfly-operator":                   {"dragonflydb.io"},
	"grafana-operator":                     {"grafana.integreatly.org"},
	"victoria-metrics-operator":            {"operator.victoriametrics.com"},
	"victoria-metrics-k8s-stack":           {"operator.victoriametrics.com"},
	"kyverno":                              {"kyverno.io", "wgpolicyk8s.io", "reports.kyverno.io"},
	"tigera-operator":                      {"crd.projectcalico.org", "operator.tigera.io"},
	"system-upgrade-controller":            {"upgrade.cattle.io"},
	"gha-runner-scale-set-controller":      {"actions.github.com"},
	"cloudnative-pg":                       {"postgresql.cnpg.io"},
	"cnpg":                                 {"postgresql.cnpg.io"},
	"barman-cloud":                         {"barmancloud.cnpg.io"},
	"emqx-operator":                        {"apps.emqx.io"},
	"node-feature-discovery":               {"nfd.k8s-sigs.io"},
	"intel-device-plugins-operator":        {"deviceplugin.intel.com"},
	"sealed-secrets":                       {"bitnami.com"},
	"onepassword-connect":                  {"onepassword.com"},
	"opentelemetry-operator":               {"opentelemetry.io"},
	"kube-state-metrics":                   nil,
	"csi-driver-nfs":                       nil,
	"openebs":                              {"openebs.io"},
	"velero":                               {"velero.io"},
	"vpa":                                  {"autoscaling.k8s.io"},
	"vertical-pod-autoscaler":              {"autoscaling.k8s.io"},
	"k8tz":                                 nil,
	"spegel":                               nil,
	"reloader":                             nil,
	"coredns":                              nil,
	"app-template":                         nil,
	"cert-manager-webhook-cloudflare":      nil,
	"mariadb-operator":                     {"k8s.mariadb.com"},
	"mariadb-operator-crds":                {"k8s.mariadb.com"},
	"crunchy-postgres-operator":            {"postgres-operator.crunchydata.com"},
	"pgo":                                  {"postgres-operator.crunchydata.com"},
	"istiod":                               nil,
	"base":                                 {"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"},
	"kubernetes-dashboard":                 nil,
	"ingress-nginx":                        nil,
	"actions-runner-controller":            {"actions.summerwind.dev"},
	"tailscale-operator":                   {"tailscale.com"},
	"cloudflare-operator":                  {"networking.cfargotunnel.com"},
	"descheduler":                          nil,
	"trust-manager":                        {"trust.cert-manager.io"},
	"capacitor":                            nil,
	"headlamp":                             nil,
	"weave-gitops":                         nil,
	"topolvm":                              {"topolvm.io"},
	"piraeus":                              {"piraeus.io", "piraeus.linbit.com"},
	"cdi-operator":                         {"cdi.kubevirt.io"},
	"kubevirt":                             {"kubevirt.io"},
	"multus":                               {"k8s.cni.cncf.io"},
	"gateway-api-crds":                     {"gateway.networking.k8s.io"},
}

// CRDGroups returns the API groups a chart is known to install and whether
// the chart is known at all.
func CRDGroups(chart string) ([]string, bool) {
	g, ok := chartCRDGroups[chart]
	return g, ok
}

// ChartName returns the chart a HelmRelease installs: spec.chart.spec.chart,
// or the last path element of the OCIRepository/HelmChart named by
// spec.chartRef.
func ChartName(c *render.Cluster, hr *render.Object) string {
	if name, _, _ := unstructured.NestedString(hr.U.Object, "spec", "chart", "spec", "chart"); name != "" {
		return path.Base(name)
	}
	ref, _, _ := unstructured.NestedStringMap(hr.U.Object, "spec", "chartRef")
	if ref == nil {
		return ""
	}
	ns := ref["namespace"]
	if ns == "" {
		ns = hr.U.GetNamespace()
	}
	for _, o := range c.Named(ref["kind"], ns, ref["name"]) {
		if url, _, _ := unstructured.NestedString(o.U.Object, "spec", "url"); url != "" {
			return path.Base(strings.TrimSuffix(url, "/"))
		}
		if name, _, _ := unstructured.NestedString(o.U.Object, "spec", "chart"); name != "" {
			return path.Base(name)
		}
	}
	return ref["name"]
}

// IsHelmRelease reports whether o is a Flux HelmRelease.
func IsHelmRelease(o *render.Object) bool {
	return o.U.GetKind() == "HelmRelease" && strings.HasPrefix(o.U.GetAPIVersion(), "helm.toolkit.fluxcd.io/")
}

// TargetNamespace is where a HelmRelease's chart creates its objects.
func TargetNamespace(hr *render.Object) string {
	if ns, _, _ := unstructured.NestedString(hr.U.Object, "spec", "targetNamespace"); ns != "" {
		return ns
	}
	return hr.U.GetNamespace()
}
