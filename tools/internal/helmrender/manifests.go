package helmrender

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// sortManifests splits the rendered templates into documents and decodes
// each once, giving what releaseutil.SortManifests gives, decoded: the
// manifests and the hooks apart, each in Helm's install order (templates
// by path, documents in file order, then stably by kind). Helm's own
// function splits with a regular expression, parses every document a
// second time for its kind and annotations, rebuilds the kind order on
// every comparison and logs unknown hooks to stderr; for a chart like
// Cilium's that was a third of its render.
//
// As in Helm, a hook with an unknown event is left out, and so are test
// hooks and, with disableHooks, every hook: helm-controller installs none
// of them.
func sortManifests(files map[string]string, disableHooks bool) (manifests, hooks []object, err error) {
	for _, p := range slices.Sorted(maps.Keys(files)) {
		for _, d := range splitManifests(files[p]) {
			u, err := decodeDoc(d)
			if err != nil {
				return nil, nil, fmt.Errorf("template %s: %w", p, err)
			}
			if u == nil {
				continue
			}
			events, isHook := u.GetAnnotations()[release.HookAnnotation]
			switch {
			case !isHook:
				manifests = append(manifests, object{u, p})
			case !disableHooks && installedHook(events):
				hooks = append(hooks, object{u, p})
			}
		}
	}
	for _, objs := range [][]object{manifests, hooks} {
		for _, o := range objs {
			if err := o.identified(); err != nil {
				return nil, nil, err
			}
		}
		slices.SortStableFunc(objs, byInstallOrder)
	}
	return manifests, hooks, nil
}

// identified fails for an object Helm could not apply.
func (o object) identified() error {
	if o.u.GetKind() == "" || o.u.GetAPIVersion() == "" || o.u.GetName() == "" {
		return fmt.Errorf("template %s renders an object without apiVersion, kind or metadata.name", o.template)
	}
	return nil
}

// installOrder is releaseutil.InstallOrder by kind.
var installOrder = func() map[string]int {
	m := make(map[string]int, len(releaseutil.InstallOrder))
	for i, k := range releaseutil.InstallOrder {
		m[k] = i
	}
	return m
}()

// byInstallOrder orders objects as releaseutil's kind sorter does: kinds
// of the install order by it, then the others by name.
func byInstallOrder(a, b object) int {
	ka, kb := a.u.GetKind(), b.u.GetKind()
	ia, aok := installOrder[ka]
	ib, bok := installOrder[kb]
	switch {
	case !aok && !bok:
		return strings.Compare(ka, kb)
	case !aok:
		return 1
	case !bok:
		return -1
	}
	return cmp.Compare(ia, ib)
}

// decodeDoc decodes one document; nil for an empty one. Helm decodes
// apiVersion, kind, metadata.name and the annotations into strings to
// sort (a scalar of any type converts): a mapping or a list there fails
// the install.
func decodeDoc(d string) (*unstructured.Unstructured, error) {
	data, err := yaml.YAMLToJSON([]byte(d))
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	scalar := func(field string, v any) error {
		switch v.(type) {
		case map[string]any, []any:
			return fmt.Errorf("%s is not a string: %v", field, v)
		}
		return nil
	}
	for _, f := range []string{"apiVersion", "kind"} {
		if err := scalar(f, m[f]); err != nil {
			return nil, err
		}
	}
	// A metadata that is not a mapping has no name, which identified
	// reports.
	if mm, ok := m["metadata"].(map[string]any); ok {
		if err := scalar("metadata.name", mm["name"]); err != nil {
			return nil, err
		}
		if an, ok := mm["annotations"]; ok && an != nil {
			am, ok := an.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("metadata.annotations is not a mapping: %v", an)
			}
			for k, v := range am {
				if err := scalar("metadata.annotations."+k, v); err != nil {
					return nil, err
				}
			}
		}
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// installedHook reports whether helm-controller installs a hook with
// these helm.sh/hook events: it does not install test hooks, and Helm
// leaves out a hook with an event it does not know.
func installedHook(events string) bool {
	for _, e := range strings.Split(events, ",") {
		switch release.HookEvent(strings.ToLower(strings.TrimSpace(e))) {
		case release.HookPreInstall, release.HookPostInstall, release.HookPreDelete, release.HookPostDelete,
			release.HookPreUpgrade, release.HookPostUpgrade, release.HookPreRollback, release.HookPostRollback:
		default: // test, test-success, or unknown
			return false
		}
	}
	return true
}

// splitManifests splits a rendered template into trimmed, non-empty
// documents as releaseutil.SplitManifests does, in order: at the regular
// expression (?:^|\s*\n)---\s* (so "---" at the start of any line, and
// whatever follows it on that line starts the next document), where \s is
// [\t\n\f\r ].
func splitManifests(content string) []string {
	s := strings.TrimSpace(content)
	var out []string
	add := func(d string) {
		if d != "" {
			out = append(out, strings.TrimSpace(d))
		}
	}
	beg := 0
	if strings.HasPrefix(s, "---") {
		beg = skipSeparatorSpace(s, 3)
	}
	for {
		i := strings.Index(s[beg:], "\n---")
		if i < 0 {
			break
		}
		// The match begins with the whitespace before the newline, which
		// trimming the document drops anyway.
		add(s[beg : beg+i])
		beg = skipSeparatorSpace(s, beg+i+4)
	}
	add(s[beg:])
	return out
}

func isSeparatorSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipSeparatorSpace(s string, i int) int {
	for i < len(s) && isSeparatorSpace(s[i]) {
		i++
	}
	return i
}
