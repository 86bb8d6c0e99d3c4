package netflow

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is a rendered object and the file it came from.
type Object struct {
	U    *unstructured.Unstructured
	File string
}

// ProblemKind says what is wrong.
type ProblemKind int

const (
	// Blocked: a declared flow is not allowed.
	Blocked ProblemKind = iota
	// Undeclared: a flow the file does not declare is allowed.
	Undeclared
	// NoEndpoint: a workload's pods are none of the endpoints.
	NoEndpoint
)

// Problem is one finding of Check.
type Problem struct {
	Kind ProblemKind
	File string
	Line int // 0 when the file is a manifest (the object names the place)
	// The object the problem is about (a policy or a workload), if any.
	ObjKind, Namespace, Name string
	Msg                      string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.ObjKind != "" {
		return fmt.Sprintf("%s: %s/%s/%s: %s", loc, p.ObjKind, p.Namespace, p.Name, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Stats counts what Check looked at.
type Stats struct {
	Endpoints, Flows, Policies, Workloads int
	// HostNetwork counts the workloads on the host network, which need
	// no endpoint: their traffic is the node's.
	HostNetwork int
	// Checked is the number of (from, to, port) combinations evaluated for
	// undeclared flows.
	Checked int
}

// workloadKinds hold a pod template at spec.template (spec.jobTemplate.spec.template for CronJobs).
var workloadKinds = map[string][]string{
	"Deployment":  {"spec", "template"},
	"StatefulSet": {"spec", "template"},
	"DaemonSet":   {"spec", "template"},
	"ReplicaSet":  {"spec", "template"},
	"Job":         {"spec", "template"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template"},
}

// Check evaluates the NetworkPolicies among objs against the flow file:
// a declared flow that no policy pair allows, an undeclared flow that
// crosses a namespace or the cluster's edge and is allowed, and a workload
// whose pods are no endpoint of the flow file are problems.
func Check(f *File, objs []Object) ([]Problem, Stats, error) {
	var (
		pols  []*policy
		ns    = namespaces{}
		probs []Problem
		st    Stats
		byID  = map[string]*policy{}
	)
	for _, o := range objs {
		switch o.U.GetKind() {
		case "NetworkPolicy":
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.U.Object, &np); err != nil {
				return nil, st, fmt.Errorf("%s: NetworkPolicy/%s/%s: %w", o.File, o.U.GetNamespace(), o.U.GetName(), err)
			}
			p := newPolicy(np, o.File)
			pols = append(pols, p)
			byID[p.id] = p
		case "Namespace":
			l := labels.Set{"kubernetes.io/metadata.name": o.U.GetName()}
			for k, v := range o.U.GetLabels() {
				l[k] = v
			}
			ns[o.U.GetName()] = l
		}
	}
	st.Policies = len(pols)
	st.Endpoints = len(f.Endpoints)

	// Every declared flow is allowed.
	for _, fl := range f.Flows {
		for _, from := range fl.From {
			for _, to := range fl.To {
				for _, port := range fl.Ports {
					st.Flows++
					a, b := f.Endpoints[from], f.Endpoints[to]
					eg, in := egress(pols, ns, a, b, port), ingress(pols, ns, a, b, port)
					if eg.allowed() && in.allowed() {
						continue
					}
					var why []string
					if !eg.allowed() {
						why = append(why, eg.explain("egress", a))
					}
					if !in.allowed() {
						why = append(why, in.explain("ingress", b))
					}
					probs = append(probs, Problem{Kind: Blocked, File: f.Path, Line: fl.Line,
						Msg: fmt.Sprintf("declared flow %s -> %s %s (%s) is blocked: %s", from, to, port, fl.Why, strings.Join(why, "; "))})
				}
			}
		}
	}

	// Every other flow across namespaces or the cluster's edge is denied.
	ports := candidatePorts(f, pols)
	names := f.names()
	for _, from := range names {
		for _, to := range names {
			a, b := f.Endpoints[from], f.Endpoints[to]
			if from == to || (!a.IsPods() && !b.IsPods()) || (a.IsPods() && b.IsPods() && a.Namespace == b.Namespace) {
				continue
			}
			for _, port := range ports {
				st.Checked++
				if f.declared(from, to, port) {
					continue
				}
				eg, in := egress(pols, ns, a, b, port), ingress(pols, ns, a, b, port)
				if !eg.allowed() || !in.allowed() {
					continue
				}
				// Name the policy that lets it through (the one to fix). A
				// flow no policy of the tree allows explicitly has both ends
				// unrestricted: namespaces whose policies the tree does not
				// hold (kube-system, Flux's own) or addresses outside the
				// cluster; policy network-default-deny covers namespaces
				// with workloads.
				culprit := append(slices.Clone(in.allowedBy), eg.allowedBy...)
				if len(culprit) == 0 {
					continue
				}
				p := byID[culprit[0]]
				probs = append(probs, Problem{Kind: Undeclared, File: p.file, ObjKind: "NetworkPolicy", Namespace: p.np.Namespace, Name: p.np.Name,
					Msg: fmt.Sprintf("undeclared flow %s -> %s %s is allowed: %s; %s; declare it in %s or narrow the policy",
						from, to, port, eg.explain("egress", a), in.explain("ingress", b), f.Path)})
			}
		}
	}

	// Every workload's pods are an endpoint.
	for _, o := range objs {
		path, ok := workloadKinds[o.U.GetKind()]
		if !ok {
			continue
		}
		st.Workloads++
		// Pods on the host network (a CNI's agents, node exporters) are
		// the node as far as the network goes: no NetworkPolicy selects
		// them (Cilium gives them the host identity), and flows from or to
		// them are those of the node addresses' endpoint.
		if host, _, _ := unstructured.NestedBool(o.U.Object, append(slices.Clone(path), "spec", "hostNetwork")...); host {
			st.HostNetwork++
			continue
		}
		tl, _, _ := unstructured.NestedStringMap(o.U.Object, append(slices.Clone(path), "metadata", "labels")...)
		if !slices.ContainsFunc(names, func(n string) bool { return f.Endpoints[n].covers(o.U.GetNamespace(), tl) }) {
			probs = append(probs, Problem{Kind: NoEndpoint, File: o.File, ObjKind: o.U.GetKind(), Namespace: o.U.GetNamespace(), Name: o.U.GetName(),
				Msg: fmt.Sprintf("its pods are no endpoint of %s, so their flows are not checked; add an endpoint with namespace %s and pod labels it has", f.Path, o.U.GetNamespace())})
		}
	}
	return probs, st, nil
}

// covers reports whether the endpoint names the pods of a template with
// labels tl in namespace ns.
func (e *Endpoint) covers(ns string, tl map[string]string) bool {
	if !e.IsPods() || e.Namespace != ns {
		return false
	}
	for k, v := range e.Pods {
		if tl[k] != v {
			return false
		}
	}
	return true
}

// candidatePorts are the ports worth trying for undeclared flows: those of
// the declared flows and every port a policy rule names.
func candidatePorts(f *File, pols []*policy) []Port {
	set := map[Port]bool{}
	for _, fl := range f.Flows {
		for _, p := range fl.Ports {
			set[p] = true
		}
	}
	add := func(ports []networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.Port == nil || p.Port.IntValue() == 0 {
				continue
			}
			proto := "TCP"
			if p.Protocol != nil {
				proto = string(*p.Protocol)
			}
			set[Port{Number: p.Port.IntValue(), Protocol: proto}] = true
		}
	}
	for _, p := range pols {
		for _, r := range p.np.Spec.Ingress {
			add(r.Ports)
		}
		for _, r := range p.np.Spec.Egress {
			add(r.Ports)
		}
	}
	out := make([]Port, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Number != out[j].Number {
			return out[i].Number < out[j].Number
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}
