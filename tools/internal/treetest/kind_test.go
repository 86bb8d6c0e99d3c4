package treetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	fluxrender "github.com/homelab-gitops/homelab/tools/internal/render"
	"github.com/homelab-gitops/homelab/tools/internal/validate"
)

// The kind workflow and the files it reads.
const (
	kindWorkflow    = ".github/workflows/e2e.yaml"
	kindClusterVars = ".github/kind/cluster-vars.yaml"
	imagesWorkflow  = ".github/workflows/images.yaml"
	clusterVarsFile = "clusters/homelab/cluster-vars.yaml"
)

// tagPinnedCharts are the charts whose images may be pinned by an exact
// version tag only, with the reason (docs/runbook.md, "Image pinning").
// An entry that no longer excuses an image fails the test.
var tagPinnedCharts = map[string]string{
	"mongodb-kubernetes": "the chart builds its image references from version fields and takes no digest",
}

// kindTree is what the kind workflow reconciles: the GitOps tree and the
// chart mirror, with cluster-vars patched by the kind values.
var kindTree = []string{"clusters", "infrastructure", "apps", "charts", ".gitops-validate.yaml", ".sops.yaml"}

// TestKindWorkflowCanDeployEveryImage renders the tree as the kind
// workflow deploys it, through the validator with the chart mirror, and
// checks every image a pod of the tree or of a chart would run: an image of
// this repository (published by the images workflow) must be one the kind
// workflow builds and loads (KIND_IMAGES), since no registry serves it
// before a release; any other must be pinned by digest, so that kind pulls
// what was reviewed.
func TestKindWorkflowCanDeployEveryImage(t *testing.T) {
	root := repoRoot(t)
	tree := t.TempDir()
	for _, p := range kindTree {
		if err := copyPath(filepath.Join(root, p), filepath.Join(tree, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := patchClusterVars(filepath.Join(tree, clusterVarsFile), filepath.Join(root, kindClusterVars)); err != nil {
		t.Fatal(err)
	}
	rep, err := validate.Run(context.Background(), validate.Options{Root: tree, Policies: "-"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Severity == finding.Error {
			t.Errorf("with the kind values: %s: %s", f.Position(), f.Message)
		}
	}

	env := workflowEnv(t, filepath.Join(root, kindWorkflow), "kind")
	var loaded []string
	for _, pair := range strings.Fields(env["KIND_IMAGES"]) {
		name, repo, ok := strings.Cut(pair, "=")
		if !ok || name == "" || repo == "" {
			t.Fatalf("KIND_IMAGES in %s: %q is not <imagebuild name>=<repository>", kindWorkflow, pair)
		}
		loaded = append(loaded, repo)
	}
	published := publishedRepositories(t, filepath.Join(root, imagesWorkflow))
	if len(loaded) == 0 || len(published) == 0 {
		t.Fatalf("KIND_IMAGES in %s = %v, images published by %s = %v", kindWorkflow, loaded, imagesWorkflow, published)
	}

	deployed := map[string]bool{} // repositories of this repository the tree deploys
	excused := map[string]bool{}  // charts of tagPinnedCharts that deploy a tag-pinned image
	images := 0
	for _, c := range rep.Clusters {
		for hr, why := range c.ChartsMissing {
			t.Errorf("HelmRelease %s/%s: chart not rendered (%s): its images are unchecked", hr.U.GetNamespace(), hr.U.GetName(), why)
		}
		for _, o := range c.Objects {
			for _, img := range objectImages(o) {
				images++
				repo := repository(img)
				switch {
				case slices.Contains(published, repo):
					deployed[repo] = true
					if !slices.Contains(loaded, repo) {
						t.Errorf("%s: %s is this repository's image, which no registry serves before a release: add %s to KIND_IMAGES in %s", where(o), img, repo, kindWorkflow)
					}
				case checkDigest(img) == "":
				case tagPinned(o, img):
					excused[chartName(o)] = true
				case digestExcepted(o.U.Object) != "" && versionTag.MatchString(img):
					// kind pulls it by its release tag, as its
					// upstream's installer does (Flux's controllers).
				default:
					t.Errorf("%s: %s, and kind would pull it from upstream by tag", where(o), checkDigest(img))
				}
			}
		}
	}
	if images == 0 {
		t.Fatal("the rendered tree deploys no image")
	}
	for chart, why := range tagPinnedCharts {
		if !excused[chart] {
			t.Errorf("tagPinnedCharts excuses chart %s (%s), which deploys no tag-pinned image any more: drop the entry", chart, why)
		}
	}
	for _, repo := range loaded {
		if !deployed[repo] {
			t.Errorf("KIND_IMAGES in %s lists %s, which the tree does not deploy", kindWorkflow, repo)
		}
	}
}

// versionTag matches an exact version tag (1.10.0, v3.7.11-alpine).
var versionTag = regexp.MustCompile(`:v?[0-9]+\.[0-9]+\.[0-9]+[-.\w]*$`)

// tagPinned reports whether img, rendered from a chart of
// tagPinnedCharts, is pinned by an exact version tag.
func tagPinned(o *fluxrender.Object, img string) bool {
	_, ok := tagPinnedCharts[chartName(o)]
	return ok && versionTag.MatchString(img)
}

// chartName is the name of the chart that rendered o, or "".
func chartName(o *fluxrender.Object) string {
	if o.Chart == nil {
		return ""
	}
	hr := o.Chart.Release.U
	name, _, _ := unstructured.NestedString(hr.Object, "spec", "chart", "spec", "chart")
	return name
}

// where names a rendered object and, for a chart's, its HelmRelease.
func where(o *fluxrender.Object) string {
	s := fmt.Sprintf("%s (%s)", o.ID(), o.File)
	if o.Chart != nil {
		s += fmt.Sprintf(" from chart %s of HelmRelease %s/%s", o.Chart.Chart, o.Chart.Release.U.GetNamespace(), o.Chart.Release.U.GetName())
	}
	return s
}

// objectImages lists the images a workload's pods run, and the RabbitMQ
// image a RabbitmqCluster makes its operator run.
func objectImages(o *fluxrender.Object) []string {
	obj := object{Doc: o.U.Object}
	var out []string
	if spec := podSpec(obj); spec != nil {
		for _, key := range []string{"initContainers", "containers"} {
			for _, c := range list(spec, key) {
				if img, _ := c["image"].(string); img != "" {
					out = append(out, img)
				}
			}
		}
	}
	if obj.kind() == "RabbitmqCluster" {
		if img, _ := dig(obj.Doc, "spec")["image"].(string); img != "" {
			out = append(out, img)
		}
	}
	return out
}

// repository is an image reference without its tag and digest.
func repository(img string) string {
	img, _, _ = strings.Cut(img, "@")
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i]
	}
	return img
}

// patchClusterVars overwrites data keys of the cluster-vars ConfigMap with
// those of the patch, as the workflow's strategic-merge patch does. A key
// the ConfigMap lacks is an error: the patch would add a value nothing uses.
func patchClusterVars(file, patch string) error {
	cm, err := yaml.ReadFile(file)
	if err != nil {
		return err
	}
	p, err := yaml.ReadFile(patch)
	if err != nil {
		return err
	}
	if p.GetKind() != "ConfigMap" || p.GetName() != cm.GetName() || p.GetNamespace() != cm.GetNamespace() {
		return fmt.Errorf("%s: not a patch of ConfigMap %s/%s", patch, cm.GetNamespace(), cm.GetName())
	}
	data, err := p.Pipe(yaml.Lookup("data"))
	if err != nil || data == nil {
		return fmt.Errorf("%s: no data", patch)
	}
	return data.VisitFields(func(f *yaml.MapNode) error {
		key := yaml.GetValue(f.Key)
		old, err := cm.Pipe(yaml.Lookup("data", key))
		if err != nil || old == nil {
			return fmt.Errorf("%s: %s is not a key of %s", patch, key, file)
		}
		if err := cm.PipeE(yaml.Lookup("data"), yaml.SetField(key, f.Value)); err != nil {
			return err
		}
		return yaml.WriteFile(cm, file)
	})
}

// workflowEnv returns the env of a job of a workflow.
func workflowEnv(t *testing.T, file, job string) map[string]string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Env map[string]string `json:"env"`
		} `json:"jobs"`
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	j, ok := wf.Jobs[job]
	if !ok {
		t.Fatalf("%s has no job %s", file, job)
	}
	return j.Env
}

// publishedRepositories lists the image repositories the images workflow
// pushes: the repository of each entry of its matrix.
func publishedRepositories(t *testing.T, file string) []string {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Include []struct {
						Repository string `json:"repository"`
					} `json:"include"`
				} `json:"matrix"`
			} `json:"strategy"`
		} `json:"jobs"`
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigsyaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var out []string
	for _, j := range wf.Jobs {
		for _, inc := range j.Strategy.Matrix.Include {
			if inc.Repository != "" {
				out = append(out, inc.Repository)
			}
		}
	}
	return out
}

// copyPath copies a file or a directory tree; a missing path is an error.
func copyPath(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return os.CopyFS(dst, os.DirFS(src))
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
