package netflow_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/netflow"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

var (
	repoRoot    = filepath.Join("..", "..", "..")
	flowFile    = filepath.Join(repoRoot, "infrastructure", "network-flows.yaml")
	clusterVars = filepath.Join(repoRoot, "clusters", "homelab", "cluster-vars.yaml")
)

// TestRepositoryFlows renders clusters/homelab as the validator does
// (charts included) and checks its NetworkPolicies against the flow file.
func TestRepositoryFlows(t *testing.T) {
	skip := map[finding.Class]bool{}
	for _, c := range []finding.Class{finding.ClassParse, finding.ClassSchema, finding.ClassGraph, finding.ClassReference, finding.ClassSecret, finding.ClassPolicy, finding.ClassHelm} {
		skip[c] = true
	}
	rep, err := validate.Run(context.Background(), validate.Options{Root: repoRoot, Policies: "-", Skip: skip})
	if err != nil {
		t.Fatal(err)
	}
	var objs []netflow.Object
	for _, c := range rep.Clusters {
		if c.Name != "homelab" {
			continue
		}
		for _, o := range c.Objects {
			objs = append(objs, netflow.Object{U: o.U, File: o.File})
		}
	}
	if len(objs) == 0 {
		t.Fatalf("cluster homelab rendered no objects")
	}
	f, err := netflow.Load(flowFile, loadVars(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	probs, st, err := netflow.Check(f, objs)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	for _, p := range probs {
		t.Error(p)
	}
	t.Logf("%d endpoints, %d declared flows (endpoint pairs x ports), %d policies, %d workloads (%d on the host network), %d undeclared combinations checked in %v",
		st.Endpoints, st.Flows, st.Policies, st.Workloads, st.HostNetwork, st.Checked, took.Round(time.Millisecond))

	// The same tree without the policy that admits Prometheus into traefik
	// must fail, naming the flow and the policies that now block it.
	without := slices.DeleteFunc(slices.Clone(objs), func(o netflow.Object) bool {
		return o.U.GetKind() == "NetworkPolicy" && o.U.GetNamespace() == "traefik" && o.U.GetName() == "allow-prometheus"
	})
	probs, _, err = netflow.Check(f, without)
	if err != nil {
		t.Fatal(err)
	}
	const want = "declared flow prometheus -> traefik 9100/TCP (scrape Traefik) is blocked: ingress of traefik restricted by [NetworkPolicy/traefik/"
	if len(probs) != 1 || !strings.Contains(probs[0].String(), want) {
		t.Errorf("without traefik/allow-prometheus: problems %v, want one containing %q", probs, want)
	}
}

func loadVars(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(clusterVars)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatalf("%s: %v", clusterVars, err)
	}
	return cm.Data
}
