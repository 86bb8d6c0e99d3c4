package refs

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// madeObject is a core object (Secret, Service, ServiceAccount, ConfigMap)
// that a controller creates in the cluster from a rendered object.
type madeObject struct {
	kind, namespace, name string
	// by names the controller and the object it acts on, for messages.
	by string
}

type groupKind struct{ group, kind string }

// operators are the naming rules of the controllers whose objects pods and
// routes commonly reference: for an object of the group/kind, what the
// controller creates and under which names. A rule may return nothing when
// the object does not ask the controller for anything.
var operators = map[groupKind]func(o *render.Object) []madeObject{
	{certGroup, "Certificate"}: func(o *render.Object) []madeObject {
		return secrets(o, "cert-manager (Certificate "+o.U.GetName()+")", str(o, "spec", "secretName"))
	},
	// gateway-shim makes a Certificate, hence a Secret, for every TLS
	// listener's certificateRefs of an annotated Gateway.
	{gatewayGroup, "Gateway"}: func(o *render.Object) []madeObject {
		if !hasIssuerAnnotation(o) {
			return nil
		}
		by := "cert-manager gateway-shim (Gateway " + o.U.GetName() + ")"
		var out []madeObject
		for _, l := range slice(o.U.Object, "spec", "listeners") {
			for _, cr := range slice(l, "tls", "certificateRefs") {
				ns, _ := cr["namespace"].(string)
				if ns == "" {
					ns = o.U.GetNamespace()
				}
				name, _ := cr["name"].(string)
				if name != "" {
					out = append(out, madeObject{"Secret", ns, name, by})
				}
			}
		}
		return out
	},
	{"networking.k8s.io", "Ingress"}: func(o *render.Object) []madeObject {
		if !hasIssuerAnnotation(o) {
			return nil
		}
		var names []string
		for _, t := range slice(o.U.Object, "spec", "tls") {
			name, _ := t["secretName"].(string)
			names = append(names, name)
		}
		return secrets(o, "cert-manager ingress-shim (Ingress "+o.U.GetName()+")", names...)
	},
	{"external-secrets.io", "ExternalSecret"}: func(o *render.Object) []madeObject {
		name := str(o, "spec", "target", "name")
		if name == "" {
			name = o.U.GetName()
		}
		return secrets(o, "external-secrets (ExternalSecret "+o.U.GetName()+")", name)
	},
	{"bitnami.com", "SealedSecret"}: func(o *render.Object) []madeObject {
		return secrets(o, "sealed-secrets", o.U.GetName())
	},
	{"triggers.tekton.dev", "EventListener"}: func(o *render.Object) []madeObject {
		return []madeObject{{"Service", o.U.GetNamespace(), "el-" + o.U.GetName(), "Tekton Triggers (EventListener " + o.U.GetName() + ")"}}
	},
	{"operator.tekton.dev", "TektonDashboard"}: tektonDashboard,
	{"operator.tekton.dev", "TektonConfig"}: func(o *render.Object) []madeObject {
		// The "all" profile, or an explicit dashboard section, installs it.
		if str(o, "spec", "profile") != "all" && !hasField(o.U.Object, "spec", "dashboard") {
			return nil
		}
		return tektonDashboard(o)
	},
	{"rabbitmq.com", "RabbitmqCluster"}: func(o *render.Object) []madeObject {
		name, ns := o.U.GetName(), o.U.GetNamespace()
		by := "RabbitMQ cluster operator (RabbitmqCluster " + name + ")"
		return []madeObject{
			{"Secret", ns, name + "-default-user", by},
			{"Secret", ns, name + "-erlang-cookie", by},
			{"Service", ns, name, by},
			{"Service", ns, name + "-nodes", by},
			{"ServiceAccount", ns, name + "-server", by},
			{"ConfigMap", ns, name + "-server-conf", by},
			{"ConfigMap", ns, name + "-plugins-conf", by},
		}
	},
	{"mongodbcommunity.mongodb.com", "MongoDBCommunity"}: func(o *render.Object) []madeObject {
		name, ns := o.U.GetName(), o.U.GetNamespace()
		by := "MongoDB operator (MongoDBCommunity " + name + ")"
		out := []madeObject{
			{"Secret", ns, name + "-agent-password", by},
			{"Secret", ns, name + "-keyfile", by},
			{"Secret", ns, name + "-agent-certs", by},
			{"Secret", ns, name + "-admin-scram-credentials", by},
			{"Service", ns, name + "-svc", by},
		}
		for _, u := range slice(o.U.Object, "spec", "users") {
			user, _ := u["name"].(string)
			db, _ := u["db"].(string)
			cs, _ := u["connectionStringSecretName"].(string)
			if cs == "" {
				cs = strings.ToLower(name + "-" + db + "-" + user)
			}
			csNS, _ := u["connectionStringSecretNamespace"].(string)
			if csNS == "" {
				csNS = ns
			}
			out = append(out, madeObject{"Secret", csNS, cs, by})
			if sc, _ := u["scramCredentialsSecretName"].(string); sc != "" {
				out = append(out, madeObject{"Secret", ns, sc + "-scram-credentials", by})
			}
		}
		return out
	},
	// CloudNativePG names everything after the Cluster; the application
	// user's Secret is made unless initdb names one of the repository's.
	{"postgresql.cnpg.io", "Cluster"}: func(o *render.Object) []madeObject {
		name, ns := o.U.GetName(), o.U.GetNamespace()
		by := "CloudNativePG (Cluster " + name + ")"
		out := []madeObject{
			{"Service", ns, name + "-rw", by},
			{"Service", ns, name + "-ro", by},
			{"Service", ns, name + "-r", by},
			{"Secret", ns, name + "-ca", by},
			{"Secret", ns, name + "-server", by},
			{"Secret", ns, name + "-replication", by},
		}
		if str(o, "spec", "bootstrap", "initdb", "secret", "name") == "" {
			out = append(out, madeObject{"Secret", ns, name + "-app", by})
		}
		if su, _, _ := unstructured.NestedBool(o.U.Object, "spec", "enableSuperuserAccess"); su {
			out = append(out, madeObject{"Secret", ns, name + "-superuser", by})
		}
		return out
	},
	{"postgresql.cnpg.io", "Pooler"}: func(o *render.Object) []madeObject {
		return []madeObject{{"Service", o.U.GetNamespace(), o.U.GetName(), "CloudNativePG (Pooler " + o.U.GetName() + ")"}}
	},
	{"mongodb.com", "MongoDB"}: func(o *render.Object) []madeObject {
		name, ns := o.U.GetName(), o.U.GetNamespace()
		by := "MongoDB operator (MongoDB " + name + ")"
		return []madeObject{{"Service", ns, name + "-svc", by}, {"Secret", ns, name + "-agent-password", by}}
	},
}

// tektonDashboard is the Service the Tekton operator makes for a dashboard,
// in the operator's target namespace.
func tektonDashboard(o *render.Object) []madeObject {
	target := str(o, "spec", "targetNamespace")
	if target == "" {
		target = "tekton-pipelines"
	}
	return []madeObject{{"Service", target, "tekton-dashboard", "Tekton operator (" + o.U.GetKind() + " " + o.U.GetName() + ")"}}
}

// secrets are the named Secrets in o's namespace; empty names are skipped.
func secrets(o *render.Object, by string, names ...string) []madeObject {
	var out []madeObject
	for _, n := range names {
		if n != "" {
			out = append(out, madeObject{"Secret", o.U.GetNamespace(), n, by})
		}
	}
	return out
}

func str(o *render.Object, path ...string) string {
	v, _, _ := unstructured.NestedString(o.U.Object, path...)
	return v
}
