package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  plain: ${NAME}
  defaulted: ${UNSET:=fallback}
  escaped: $${NAME}
  missing: ${NOPE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  plain: ${NAME}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.0}]
`

// fakeVars serves one ConfigMap "vars" in flux-system.
type fakeVars struct{ client.Client }

func (fakeVars) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok || key.Name != "vars" || key.Namespace != "flux-system" {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, key.Name)
	}
	cm.Data = map[string]string{"NAME": "from-configmap"}
	return nil
}

func kustomization(t *testing.T, spec string) *Kustomization {
	t.Helper()
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec:\n"+spec), &u.Object); err != nil {
		t.Fatal(err)
	}
	k, err := NewKustomization(&u, nil, "clusters/x/app.yaml", 1)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func renderDir(t *testing.T, spec string) Result {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "app", "objects.yaml"), []byte(configMap), 0o644); err != nil {
		t.Fatal(err)
	}
	res := New(nil).Render(context.Background(), kustomization(t, spec), Source{Root: root}, fakeVars{})
	entries, _ := os.ReadDir(filepath.Join(root, "app"))
	if len(entries) != 1 {
		t.Fatalf("render wrote to the source directory: %v", entries)
	}
	return res
}

func object(t *testing.T, res Result, kind, name string) *Object {
	t.Helper()
	for _, o := range res.Objects {
		if o.U.GetKind() == kind && o.U.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s/%s in %d objects (findings %+v)", kind, name, len(res.Objects), res.Findings)
	return nil
}

func TestSubstitution(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		want    map[string]string // data of ConfigMap app (prefixed name when namePrefix is set)
		raw     string            // data.plain of ConfigMap raw
		missing []string
	}{
		{
			name: "no postBuild: nothing is substituted",
			spec: "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
			want: map[string]string{"plain": "${NAME}", "defaulted": "${UNSET:=fallback}", "escaped": "$${NAME}", "missing": "${NOPE}"},
			raw:  "${NAME}",
		},
		{
			name:    "inline substitute, defaults, escapes, disabled annotation, missing variable",
			spec:    "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substitute: {NAME: inline}\n",
			want:    map[string]string{"plain": "inline", "defaulted": "fallback", "escaped": "${NAME}", "missing": ""},
			raw:     "${NAME}",
			missing: []string{"NOPE at data.missing"},
		},
		{
			name:    "substituteFrom a ConfigMap, optional missing Secret",
			spec:    "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: vars}\n      - {kind: Secret, name: absent, optional: true}\n",
			want:    map[string]string{"plain": "from-configmap", "defaulted": "fallback", "escaped": "${NAME}", "missing": ""},
			raw:     "${NAME}",
			missing: []string{"NOPE at data.missing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := renderDir(t, tt.spec)
			app := object(t, res, "ConfigMap", "app")
			data, _ := app.U.Object["data"].(map[string]any)
			for k, v := range tt.want {
				got := ""
				if data[k] != nil {
					got = fmt.Sprint(data[k])
				}
				if got != v {
					t.Errorf("data.%s = %q, want %q", k, got, v)
				}
			}
			raw := object(t, res, "ConfigMap", "raw")
			if p, _, _ := unstructured.NestedString(raw.U.Object, "data", "plain"); p != tt.raw {
				t.Errorf("disabled object: data.plain = %q, want %q", p, tt.raw)
			}
			var missing []string
			for _, f := range res.Findings {
				if f.Rule != finding.RenderVarMissing {
					t.Errorf("unexpected finding %s: %s", f.Rule, f.Message)
					continue
				}
				missing = append(missing, f.Variable+" at "+f.Field)
				if f.File != "app/objects.yaml" {
					t.Errorf("finding file %q, want app/objects.yaml", f.File)
				}
			}
			if !slices.Equal(missing, tt.missing) {
				t.Errorf("missing-variable findings %v, want %v", missing, tt.missing)
			}
			if app.File != "app/objects.yaml" {
				t.Errorf("object file %q, want app/objects.yaml", app.File)
			}
		})
	}
}

func TestKustomizationSpecApplied(t *testing.T) {
	res := renderDir(t, `  path: ./app
  sourceRef: {kind: GitRepository, name: flux-system}
  targetNamespace: apps
  namePrefix: pre-
  commonMetadata:
    labels: {team: home}
  images:
    - name: nginx
      newTag: "2.0"
  patches:
    - target: {kind: Deployment}
      patch: |
        - op: add
          path: /spec/replicas
          value: 3
`)
	d := object(t, res, "Deployment", "pre-web")
	if d.U.GetNamespace() != "apps" {
		t.Errorf("namespace %q, want apps", d.U.GetNamespace())
	}
	if d.U.GetLabels()["team"] != "home" {
		t.Errorf("commonMetadata label missing: %v", d.U.GetLabels())
	}
	if r, _, _ := unstructured.NestedInt64(d.U.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %d, want 3 (patch)", r)
	}
	cs, _, _ := unstructured.NestedSlice(d.U.Object, "spec", "template", "spec", "containers")
	if img := cs[0].(map[string]any)["image"]; img != "nginx:2.0" {
		t.Errorf("image %v, want nginx:2.0", img)
	}
	if _, ok := d.U.GetAnnotations()[originAnnotation]; ok {
		t.Error("origin annotation leaked into the rendered object")
	}
}

func TestRenderErrors(t *testing.T) {
	kus := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - present.yaml\n  - absent.yaml\n"
	root := testfs.Tree(t, map[string]string{"app/kustomization.yaml": kus, "app/present.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"})
	r := New(nil)
	res := r.Render(context.Background(), kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n"), Source{Root: root}, nil)
	if len(res.Findings) != 1 || res.Findings[0].Rule != finding.RenderFailed || res.Findings[0].File != "app/kustomization.yaml" || res.Findings[0].Line != 5 {
		t.Fatalf("want render-failed at app/kustomization.yaml:5, got %+v", res.Findings)
	}
	res = r.Render(context.Background(), kustomization(t, "  path: ./nowhere\n  sourceRef: {kind: GitRepository, name: flux-system}\n"), Source{Root: root}, nil)
	rules := []string{}
	for _, f := range res.Findings {
		rules = append(rules, f.Rule)
	}
	if !slices.Equal(rules, []string{finding.GraphPath}) {
		t.Fatalf("want graph-path-missing, got %v", rules)
	}
}

func TestSchemaFieldDetection(t *testing.T) {
	for _, tt := range []struct {
		data string
		want bool
	}{
		{"resources: [a.yaml]\nopenapi:\n  path: schema.json\n", true},
		{"crds:\n  - crd.yaml\n", true},
		{"patches:\n  - patch: |\n      spec:\n        install:\n          crds: CreateReplace\n", false},
	} {
		if got := schemaFieldRe.MatchString(tt.data); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.data, got, tt.want)
		}
	}
}

// TestMissingVars: one walk of the object finds every variable Flux's
// strict mode would fail on, each once, at the first field in document
// order that references it.
func TestMissingVars(t *testing.T) {
	const doc = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  labels:
    ${KEY_VAR}: x
data:
  set: ${SET}
  both: ${ONE}-${TWO^^}
  again: ${ONE}
  defaulted: ${A:=x} ${B:-y} ${C-z} ${D:+w}
  nested: ${E:=${INNER}}
  escaped: $${ESCAPED}
  list:
    - plain
    - ${IN_LIST}
  unparsable: ${BROKEN
`
	var n kyaml.Node
	if err := kyaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range missingVars(&n, map[string]string{"SET": "1"}) {
		got = append(got, m.Name+" at "+m.Field)
	}
	want := []string{
		"KEY_VAR at metadata.labels.${KEY_VAR}",
		"ONE at data.both",
		"TWO at data.both",
		"INNER at data.nested",
		"IN_LIST at data.list.1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("missing\n  %v\nwant\n  %v", got, want)
	}
}

// TestGeneratedVariableSource checks that a missing variable in a
// generated ConfigMap is reported at the file and line that
// reference it: a script of files (named or not), an
// env file, a literal in the kustomization; an escaped reference is not
// taken for it. A secretGenerator's data is base64: no variable there.
func TestGeneratedVariableSource(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"app/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
configMapGenerator:
  - name: scripts
    files:
      - run.sh=./scripts/post-process.sh
      - ./scripts/other.sh
  - name: env
    envs:
      - ./vars.env
  - name: literal
    literals:
      - greeting=hello
      - target=${LITERAL}
    options:
      disableNameSuffixHash: true
secretGenerator:
  - name: creds
    files:
      - ./creds.txt
`,
		"app/scripts/post-process.sh": "#!/bin/sh\n# echo $${ESCAPED}\necho \"${SCRIPT}\"\n",
		"app/scripts/other.sh":        "echo\n\necho ${OTHER:-x} ${OTHER2}\n",
		"app/vars.env":                "A=1\nB=${ENV_VAR}\n",
		"app/creds.txt":               "user=${SECRET_VAR}\n",
	}
	for p, data := range files {
		path := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k := kustomization(t, "  path: ./app\n  sourceRef: {kind: GitRepository, name: flux-system}\n  postBuild:\n    substitute: {UNUSED: x}\n")
	res := New(nil).Render(context.Background(), k, Source{Root: root}, fakeVars{})
	var got []string
	for _, f := range res.Findings {
		if f.Rule != finding.RenderVarMissing {
			t.Errorf("unexpected finding %s: %s", f.Rule, f.Message)
			continue
		}
		got = append(got, fmt.Sprintf("%s %s:%d", f.Variable, f.File, f.Line))
	}
	slices.Sort(got)
	want := []string{
		"ENV_VAR app/vars.env:2",
		"LITERAL app/kustomization.yaml:14",
		"OTHER2 app/scripts/other.sh:3",
		"SCRIPT app/scripts/post-process.sh:3",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n%v\nwant\n%v", got, want)
	}
}
