package schemas

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// fluxControllers are the controllers whose CRDs a Flux release installs
// (manifests/bases/<controller> of fluxcd/flux2).
var fluxControllers = []string{
	"source-controller", "kustomize-controller", "helm-controller", "notification-controller",
	"image-reflector-controller", "image-automation-controller",
}

// gitRepo runs git against a bare clone of github.com/fluxcd/<name> under
// $FLUX_GIT (the <owner>+<name>/repo layout of a mirror directory).
type gitRepo string

func (g gitRepo) run(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir", string(g)}, args...)...).Output()
	if err != nil {
		t.Fatalf("git --git-dir %s %s: %v", g, strings.Join(args, " "), err)
	}
	return out
}

// patchOf returns tag, or when the clone does not have it (a snapshot
// older than the release) the highest earlier patch of the same minor: a
// controller's served API versions change only with a minor release.
func (g gitRepo) patchOf(t *testing.T, tag string) string {
	t.Helper()
	minor := tag[:strings.LastIndex(tag, ".")]
	best := ""
	for _, have := range strings.Fields(string(g.run(t, "tag", "--list", minor+".*"))) {
		if strings.Contains(have, "-") || compareMinor(have, tag) > 0 {
			continue
		}
		if best == "" || compareMinor(have, best) > 0 {
			best = have
		}
	}
	if best == "" {
		t.Fatalf("%s has no tag %s nor an earlier patch of %s", g, tag, minor)
	}
	return best
}

// crdDoc is the part of a CRD the table needs.
type crdDoc struct {
	Spec struct {
		Group string `json:"group"`
		Names struct {
			Kind string `json:"kind"`
		} `json:"names"`
		Versions []struct {
			Name   string `json:"name"`
			Served bool   `json:"served"`
		} `json:"versions"`
	} `json:"spec"`
}

// controllerCRD is one CRD file of a controller release.
type controllerCRD struct {
	controller, tag, commit, file string
	data                          []byte
	doc                           crdDoc
}

// releaseURL finds a controller's tag in a flux2 manifests/bases kustomization.
var releaseURL = regexp.MustCompile(`releases/download/(v[0-9][^/]*)/`)

// generateFluxTable reads, for the last patch of every Flux minor release,
// which controller tags it ships and which API versions their CRDs serve.
func generateFluxTable(t *testing.T, mirror string) (fluxTable, map[string]controllerCRD) {
	flux := gitRepo(filepath.Join(mirror, "fluxcd+flux2", "repo"))
	latest := map[string]string{} // minor -> last patch tag
	for _, tag := range strings.Fields(string(flux.run(t, "tag", "--list", "v*"))) {
		if strings.Contains(tag, "-") {
			continue // release candidates
		}
		minor := tag[:strings.LastIndex(tag, ".")]
		if prev, ok := latest[minor]; !ok || compareMinor(tag, prev) > 0 {
			latest[minor] = tag
		}
	}
	var table fluxTable
	files := map[string]controllerCRD{} // controller@tag:file -> CRD
	for minor, tag := range latest {
		rel := FluxRelease{Release: minor, Tag: tag, Controllers: map[string]string{}, APIs: map[string][]string{}}
		for _, c := range fluxControllers {
			kust, err := exec.Command("git", "--git-dir", string(flux), "show", tag+":manifests/bases/"+c+"/kustomization.yaml").Output()
			if err != nil {
				continue // not shipped by this release
			}
			m := releaseURL.FindSubmatch(kust)
			if m == nil {
				continue
			}
			rel.Controllers[c] = string(m[1])
			repo := gitRepo(filepath.Join(mirror, "fluxcd+"+c, "repo"))
			ctag := repo.patchOf(t, string(m[1]))
			if ctag != string(m[1]) {
				if rel.ReadFrom == nil {
					rel.ReadFrom = map[string]string{}
				}
				rel.ReadFrom[c] = ctag
			}
			commit := strings.TrimSpace(string(repo.run(t, "rev-parse", ctag+"^{commit}")))
			for _, f := range strings.Fields(string(repo.run(t, "ls-tree", "--name-only", ctag, "config/crd/bases/"))) {
				data := repo.run(t, "show", ctag+":"+f)
				js, err := yaml.YAMLToJSON(data)
				if err != nil {
					t.Fatalf("%s@%s %s: %v", c, ctag, f, err)
				}
				var doc crdDoc
				if err := json.Unmarshal(js, &doc); err != nil || doc.Spec.Group == "" {
					continue
				}
				key := doc.Spec.Group + "/" + doc.Spec.Names.Kind
				for _, v := range doc.Spec.Versions {
					if v.Served {
						rel.APIs[key] = append(rel.APIs[key], v.Name)
					}
				}
				files[c+"@"+ctag+":"+f] = controllerCRD{controller: c, tag: ctag, commit: commit, file: f, data: data, doc: doc}
			}
		}
		if len(rel.APIs) > 0 {
			table.Releases = append(table.Releases, rel)
		}
	}
	slices.SortFunc(table.Releases, func(a, b FluxRelease) int { return compareMinor(a.Release, b.Release) })
	return table, files
}

// newestVersions are the versions compiled/ serves, by "group/Kind".
func newestVersions(t *testing.T) map[string][]string {
	out := map[string][]string{}
	entries, err := fs.ReadDir(Compiled, "compiled")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var doc crdDoc
		if err := json.Unmarshal(gunzip(t, Compiled, "compiled/"+e.Name()), &doc); err != nil {
			t.Fatal(err)
		}
		for _, v := range doc.Spec.Versions {
			if v.Served {
				out[doc.Spec.Group+"/"+doc.Spec.Names.Kind] = append(out[doc.Spec.Group+"/"+doc.Spec.Names.Kind], v.Name)
			}
		}
	}
	return out
}

func gunzip(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data
}

// pick is the CRD file a legacy version is taken from, rel the index of
// the release shipping it (the last one serving the version wins).
type pick struct {
	rel int
	crd controllerCRD
}

// gatewayPicks adds the Gateway API versions that the embedded CRDs (the
// newest standard channel) do not serve but an earlier release's
// experimental channel did, from the last tag serving each: a repository
// installing the Gateway API from a chart has those versions.
func gatewayPicks(t *testing.T, mirror string, picks map[[3]string]pick) {
	newest := newestVersions(t)
	repo := gitRepo(filepath.Join(mirror, "kubernetes-sigs+gateway-api", "repo"))
	var tags []string
	for _, tag := range strings.Fields(string(repo.run(t, "tag", "--list", "v1.*"))) {
		if !strings.Contains(tag, "-") {
			tags = append(tags, tag)
		}
	}
	slices.SortFunc(tags, compareMinor)
	for i, tag := range tags {
		commit := strings.TrimSpace(string(repo.run(t, "rev-parse", tag+"^{commit}")))
		for _, f := range strings.Fields(string(repo.run(t, "ls-tree", "--name-only", tag, "config/crd/experimental/"))) {
			if !strings.HasPrefix(path.Base(f), "gateway.networking.k8s.io_") || strings.Contains(f, "_vap_") {
				continue
			}
			data := repo.run(t, "show", tag+":"+f)
			js, err := yaml.YAMLToJSON(data)
			if err != nil {
				t.Fatalf("gateway-api@%s %s: %v", tag, f, err)
			}
			var doc crdDoc
			if err := json.Unmarshal(js, &doc); err != nil || doc.Spec.Group == "" {
				continue
			}
			key := doc.Spec.Group + "/" + doc.Spec.Names.Kind
			for _, v := range doc.Spec.Versions {
				if v.Served && !slices.Contains(newest[key], v.Name) {
					picks[[3]string{doc.Spec.Group, doc.Spec.Names.Kind, v.Name}] = pick{i, controllerCRD{controller: "gateway-api", tag: tag, commit: commit, file: f, data: data, doc: doc}}
				}
			}
		}
	}
}

// fluxPicks chooses, for every version a Flux release served that the
// newest CRDs do not, the CRD file of the last release serving it.
func fluxPicks(t *testing.T, table fluxTable, files map[string]controllerCRD) map[[3]string]pick {
	newest := newestVersions(t)
	picks := map[[3]string]pick{} // group, kind, version
	for i, rel := range table.Releases {
		for key, vs := range rel.APIs {
			group, kind, _ := strings.Cut(key, "/")
			for _, v := range vs {
				if slices.Contains(newest[key], v) {
					continue
				}
				for _, f := range files {
					if rel.readTag(f.controller) != f.tag {
						continue
					}
					if f.doc.Spec.Group == group && f.doc.Spec.Names.Kind == kind {
						if p, ok := picks[[3]string{group, kind, v}]; !ok || i > p.rel {
							picks[[3]string{group, kind, v}] = pick{i, f}
						}
					}
				}
			}
		}
	}
	return picks
}

// legacyCRDs builds one CRD per kind holding the picked versions only, and
// says where each comes from.
func legacyCRDs(t *testing.T, picks map[[3]string]pick) (map[string][]byte, []LegacySource, map[string]controllerCRD) {
	byKind := map[string][]any{}
	sources := map[string][]string{}
	used := map[string]controllerCRD{}
	var legacy []LegacySource
	keys := make([][3]string, 0, len(picks))
	for k := range picks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [3]string) int { return strings.Compare(strings.Join(a[:], "/"), strings.Join(b[:], "/")) })
	for _, k := range keys {
		p := picks[k]
		js, err := yaml.YAMLToJSON(p.crd.data)
		if err != nil {
			t.Fatal(err)
		}
		var crd map[string]any
		if err := json.Unmarshal(js, &crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd["spec"].(map[string]any)["versions"].([]any) {
			vm := v.(map[string]any)
			if vm["name"] == k[2] {
				// Served and not the storage version any more: the newest
				// CRD stores; this one only validates.
				vm["storage"] = false
				byKind[k[0]+"_"+k[1]] = append(byKind[k[0]+"_"+k[1]], vm)
			}
		}
		src := legacyFileName(p.crd)
		if !slices.Contains(sources[k[0]+"_"+k[1]], src) {
			sources[k[0]+"_"+k[1]] = append(sources[k[0]+"_"+k[1]], src)
		}
		used[src] = p.crd
		legacy = append(legacy, LegacySource{Group: k[0], Kind: k[1], Version: k[2], Controller: p.crd.controller, Tag: p.crd.tag, Commit: p.crd.commit, File: p.crd.file})
	}
	out := map[string][]byte{}
	for name, versions := range byKind {
		group, kind, _ := strings.Cut(name, "_")
		var plural, scope string
		for _, src := range sources[name] {
			js, _ := yaml.YAMLToJSON(used[src].data)
			var crd struct {
				Spec struct {
					Names struct {
						Plural string `json:"plural"`
					} `json:"names"`
					Scope string `json:"scope"`
				} `json:"spec"`
			}
			_ = json.Unmarshal(js, &crd)
			plural, scope = crd.Spec.Names.Plural, crd.Spec.Scope
		}
		crd := map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": plural + "." + group},
			"spec": map[string]any{
				"group":    group,
				"names":    map[string]any{"kind": kind, "plural": plural},
				"scope":    scope,
				"versions": versions,
			},
		}
		js, err := json.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Header = gzip.Header{Name: strings.Join(sources[name], ", "), ModTime: time.Unix(0, 0).UTC()}
		if _, err := zw.Write(js); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		out[name+".json.gz"] = buf.Bytes()
	}
	return out, legacy, used
}

// legacyFileName is where legacy/crds/ keeps an upstream CRD file.
func legacyFileName(c controllerCRD) string {
	return c.controller + "@" + c.tag + "_" + path.Base(c.file)
}

// TestFluxReleases checks the embedded Flux release table and legacy
// schemas: every version some release serves is served by the newest CRD or
// by a legacy one; the legacy CRDs are the upstream files listed in
// fluxreleases.json, unchanged. With -update and FLUX_GIT (a directory of
// bare clones fluxcd+flux2/repo, fluxcd+<controller>/repo) it regenerates
// legacy/ from the upstream tags.
func TestFluxReleases(t *testing.T) {
	if mirror := os.Getenv("FLUX_GIT"); *update && mirror != "" {
		table, files := generateFluxTable(t, mirror)
		picks := fluxPicks(t, table, files)
		gatewayPicks(t, mirror, picks)
		compiled, legacy, used := legacyCRDs(t, picks)
		table.Legacy = legacy
		for _, dir := range []string{"legacy/compiled", "legacy/crds"} {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range compiled {
			if err := os.WriteFile(filepath.Join("legacy/compiled", name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for name, c := range used {
			if err := os.WriteFile(filepath.Join("legacy/crds", name), c.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		js, err := json.MarshalIndent(table, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("legacy/fluxreleases.json", append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote legacy/ for %d releases, %d legacy versions; rebuild and run the tests again", len(table.Releases), len(legacy))
		return
	}
	rels, err := FluxReleases()
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) == 0 {
		t.Fatal("no Flux releases embedded")
	}
	newest := newestVersions(t)
	legacy := legacyVersions(t)
	for _, rel := range rels {
		for key, vs := range rel.APIs {
			for _, v := range vs {
				if !slices.Contains(newest[key], v) && !slices.Contains(legacy[key], v) {
					t.Errorf("Flux %s serves %s %s, which neither compiled/ nor legacy/compiled/ holds (FLUX_GIT=... go test ./tools/schemas -run TestFluxReleases -update)", rel.Release, key, v)
				}
			}
		}
	}
	srcs, err := LegacySources()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range srcs {
		name := legacyFileName(controllerCRD{controller: s.Controller, tag: s.Tag, file: s.File})
		data, err := os.ReadFile(filepath.Join("legacy/crds", name))
		if err != nil {
			t.Errorf("%s %s/%s: upstream file: %v", s.Version, s.Group, s.Kind, err)
			continue
		}
		js, err := yaml.YAMLToJSON(data)
		if err != nil {
			t.Fatalf("legacy/crds/%s: %v", name, err)
		}
		if !bytes.Contains(js, []byte(fmt.Sprintf(`"name":%q`, s.Version))) {
			t.Errorf("legacy/crds/%s has no version %s", name, s.Version)
		}
		if !slices.Contains(legacy[s.Group+"/"+s.Kind], s.Version) {
			t.Errorf("legacy/compiled/ lacks %s %s/%s listed in fluxreleases.json", s.Version, s.Group, s.Kind)
		}
	}
}

// legacyVersions are the versions legacy/compiled/ holds, by "group/Kind".
func legacyVersions(t *testing.T) map[string][]string {
	out := map[string][]string{}
	entries, err := fs.ReadDir(Legacy, "legacy/compiled")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var doc crdDoc
		if err := json.Unmarshal(gunzip(t, Legacy, "legacy/compiled/"+e.Name()), &doc); err != nil {
			t.Fatal(err)
		}
		for _, v := range doc.Spec.Versions {
			out[doc.Spec.Group+"/"+doc.Spec.Names.Kind] = append(out[doc.Spec.Group+"/"+doc.Spec.Names.Kind], v.Name)
		}
	}
	return out
}

// FindFluxRelease reads the spellings repositories use.
func TestFindFluxRelease(t *testing.T) {
	rels, err := FluxReleases()
	if err != nil {
		t.Fatal(err)
	}
	newest := rels[len(rels)-1].Release
	newest2 := ""
	for _, r := range rels {
		if strings.HasPrefix(r.Release, "v2.") {
			newest2 = r.Release
		}
	}
	for in, want := range map[string]string{
		"v2.2.3": "v2.2", "2.2.x": "v2.2", "v2.3": "v2.3", "v0.41.2": "v0.41",
		"2.x": newest2, ">=2.0.0": newest2, "*": newest, "": newest,
	} {
		got, ok := FindFluxRelease(in)
		if !ok || got.Release != want {
			t.Errorf("FindFluxRelease(%q) = %s, %v; want %s", in, got.Release, ok, want)
		}
	}
	if r, ok := FindFluxRelease("v9.1.0"); ok {
		t.Errorf("FindFluxRelease(v9.1.0) = %s, want none", r.Release)
	}
}
