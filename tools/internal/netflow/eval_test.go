package netflow

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestPolicySelectors: every selector of a policy is converted once, when
// the policy is made, and matches as metav1.LabelSelectorAsSelector does;
// an invalid one matches nothing.
func TestPolicySelectors(t *testing.T) {
	web := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tiers := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front", "back"}}}}
	bogus := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Bogus"}}}
	p := newPolicy(networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "app"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: web, NamespaceSelector: tiers}}}},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: bogus}}}},
		},
	}, "np.yaml")
	if p.id != "NetworkPolicy/app/p" || p.file != "np.yaml" {
		t.Errorf("id %q file %q", p.id, p.file)
	}
	if len(p.selectors) != 4 {
		t.Errorf("%d selectors converted, want 4 (pod selector, two in the ingress peer, one in the egress peer)", len(p.selectors))
	}
	peerIn, peerOut := p.np.Spec.Ingress[0].From[0], p.np.Spec.Egress[0].To[0]
	tests := []struct {
		name string
		sel  *metav1.LabelSelector
		set  labels.Set
		want bool
	}{
		{"pod selector", &p.np.Spec.PodSelector, labels.Set{"app": "db", "x": "y"}, true},
		{"pod selector, other pods", &p.np.Spec.PodSelector, labels.Set{"app": "web"}, false},
		{"peer pods", peerIn.PodSelector, labels.Set{"app": "web"}, true},
		{"peer namespaces, In", peerIn.NamespaceSelector, labels.Set{"tier": "back"}, true},
		{"peer namespaces, not In", peerIn.NamespaceSelector, labels.Set{"tier": "db"}, false},
		{"invalid selector", peerOut.PodSelector, labels.Set{"tier": "front"}, false},
		{"a selector made after the policy", &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}, labels.Set{"a": "b"}, true},
	}
	for _, tt := range tests {
		if got := p.matches(tt.sel, tt.set); got != tt.want {
			t.Errorf("%s: matches(%v) = %v, want %v", tt.name, tt.set, got, tt.want)
		}
	}
}
