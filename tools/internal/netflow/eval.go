package netflow

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"net/netip"
)

// policy is a NetworkPolicy with where it came from.
type policy struct {
	np   networkingv1.NetworkPolicy
	id   string // NetworkPolicy/namespace/name
	file string
	// selectors are np's label selectors, converted once: the check
	// matches each against the endpoints of every flow, and converting
	// validates every key and value with regular expressions.
	selectors map[*metav1.LabelSelector]labels.Selector
}

func newPolicy(np networkingv1.NetworkPolicy, file string) *policy {
	p := &policy{np: np, id: "NetworkPolicy/" + np.Namespace + "/" + np.Name, file: file, selectors: map[*metav1.LabelSelector]labels.Selector{}}
	add := func(sel *metav1.LabelSelector) {
		if sel == nil {
			return
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			s = labels.Nothing()
		}
		p.selectors[sel] = s
	}
	add(&p.np.Spec.PodSelector)
	for i := range p.np.Spec.Ingress {
		for j := range p.np.Spec.Ingress[i].From {
			add(p.np.Spec.Ingress[i].From[j].NamespaceSelector)
			add(p.np.Spec.Ingress[i].From[j].PodSelector)
		}
	}
	for i := range p.np.Spec.Egress {
		for j := range p.np.Spec.Egress[i].To {
			add(p.np.Spec.Egress[i].To[j].NamespaceSelector)
			add(p.np.Spec.Egress[i].To[j].PodSelector)
		}
	}
	return p
}

// namespaces maps a namespace name to its labels.
type namespaces map[string]labels.Set

func (n namespaces) labels(ns string) labels.Set {
	if l, ok := n[ns]; ok {
		return l
	}
	// Every namespace carries its name as a label (Kubernetes sets it).
	return labels.Set{"kubernetes.io/metadata.name": ns}
}

// matches reports whether sel, one of p's selectors, matches set; an
// invalid selector matches nothing.
func (p *policy) matches(sel *metav1.LabelSelector, set labels.Set) bool {
	s, ok := p.selectors[sel]
	if !ok {
		var err error
		if s, err = metav1.LabelSelectorAsSelector(sel); err != nil {
			return false
		}
	}
	return s.Matches(set)
}

// selects reports whether p applies to ep's pods in direction t.
func (p *policy) selects(ep *Endpoint, t networkingv1.PolicyType) bool {
	if !ep.IsPods() || p.np.Namespace != ep.Namespace || !p.matches(&p.np.Spec.PodSelector, ep.Pods) {
		return false
	}
	if len(p.np.Spec.PolicyTypes) == 0 {
		// Defaults: Ingress always, Egress when there are egress rules.
		return t == networkingv1.PolicyTypeIngress || len(p.np.Spec.Egress) > 0
	}
	for _, pt := range p.np.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

// peerMatches reports whether a rule's peer covers ep.
func (p *policy) peerMatches(peer networkingv1.NetworkPolicyPeer, ep *Endpoint, ns namespaces) bool {
	if peer.IPBlock != nil {
		// ipBlock never selects pods (Cilium: CIDR rules apply to
		// addresses outside the cluster's endpoints).
		if ep.IsPods() {
			return false
		}
		block, err := netip.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil || !block.Masked().Contains(ep.prefix.Addr()) || block.Bits() > ep.prefix.Bits() {
			return false
		}
		for _, ex := range peer.IPBlock.Except {
			if e, err := netip.ParsePrefix(ex); err == nil && e.Masked().Overlaps(ep.prefix) {
				return false
			}
		}
		return true
	}
	if !ep.IsPods() {
		return false
	}
	if peer.NamespaceSelector == nil {
		if ep.Namespace != p.np.Namespace {
			return false
		}
	} else if !p.matches(peer.NamespaceSelector, ns.labels(ep.Namespace)) {
		return false
	}
	return peer.PodSelector == nil || p.matches(peer.PodSelector, ep.Pods)
}

func portMatches(ports []networkingv1.NetworkPolicyPort, want Port) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		if proto != want.Protocol {
			continue
		}
		if p.Port == nil {
			return true
		}
		// A named port is resolved per pod by the CNI; the flow file
		// declares numbers, so a named port never matches here (the
		// check then reports the flow as blocked, naming the policy).
		if p.Port.IntValue() == 0 {
			continue
		}
		lo, hi := p.Port.IntValue(), p.Port.IntValue()
		if p.EndPort != nil {
			hi = int(*p.EndPort)
		}
		if want.Number >= lo && want.Number <= hi {
			return true
		}
	}
	return false
}

// verdict says why one direction of a connection is allowed or not.
type verdict struct {
	restrictedBy []string // policies that select the pod in this direction
	allowedBy    []string // those of them with a rule that allows it
}

func (v verdict) allowed() bool { return len(v.restrictedBy) == 0 || len(v.allowedBy) > 0 }

func (v verdict) explain(side string, ep *Endpoint) string {
	switch {
	case len(v.restrictedBy) == 0 && ep.IsPods():
		return fmt.Sprintf("no NetworkPolicy restricts %s of %s", side, ep.Name)
	case len(v.restrictedBy) == 0:
		return fmt.Sprintf("%s of %s is outside the cluster", side, ep.Name)
	case len(v.allowedBy) > 0:
		return fmt.Sprintf("%s allowed by %v", side, v.allowedBy)
	}
	return fmt.Sprintf("%s of %s restricted by %v, and none of them allows it", side, ep.Name, v.restrictedBy)
}

// egress evaluates the policies that select from for a connection to to.
func egress(pols []*policy, ns namespaces, from, to *Endpoint, port Port) verdict {
	var v verdict
	for _, p := range pols {
		if !p.selects(from, networkingv1.PolicyTypeEgress) {
			continue
		}
		v.restrictedBy = append(v.restrictedBy, p.id)
		for _, r := range p.np.Spec.Egress {
			if ruleAllows(p, r.To, r.Ports, to, port, ns) {
				v.allowedBy = append(v.allowedBy, p.id)
				break
			}
		}
	}
	return v
}

// ingress evaluates the policies that select to for a connection from from.
func ingress(pols []*policy, ns namespaces, from, to *Endpoint, port Port) verdict {
	var v verdict
	for _, p := range pols {
		if !p.selects(to, networkingv1.PolicyTypeIngress) {
			continue
		}
		v.restrictedBy = append(v.restrictedBy, p.id)
		for _, r := range p.np.Spec.Ingress {
			if ruleAllows(p, r.From, r.Ports, from, port, ns) {
				v.allowedBy = append(v.allowedBy, p.id)
				break
			}
		}
	}
	return v
}

func ruleAllows(p *policy, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ep *Endpoint, port Port, ns namespaces) bool {
	if !portMatches(ports, port) {
		return false
	}
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if p.peerMatches(peer, ep, ns) {
			return true
		}
	}
	return false
}
