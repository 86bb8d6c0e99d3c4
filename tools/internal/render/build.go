package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomize keeps its OpenAPI schema in package globals (kyaml/openapi),
// which is why fluxcd/pkg/kustomize.Build serialises every build on a
// global lock and resets the schema before each one (re-parsing the
// built-in schema costs 20-40 ms, most of a build). Here builds that only
// read the schema share buildMu and run in parallel: a kustomization with
// openapi: or crds:, which changes the schema, is seen when kustomize reads
// it (schemaWatch), before it changes anything; that build is stopped and
// run again alone, and the schema is reset before the next build after it,
// so every build still starts from the built-in schema alone, as in
// kustomize-controller. Serialised, the builds were most of the wall time
// on 1,000 Kustomizations.
var (
	buildMu     sync.RWMutex
	schemaDirty = true // written under buildMu.Lock
	stderrTap   tap
)

// kustomizeBuild runs krusty with kustomize-controller's options (load
// restrictions off, plugins off), like fluxcd/pkg/kustomize.Build. What
// kustomize prints to stderr (deprecated kustomization fields) is returned
// in warnings, one per line, rather than mixed into the command's output.
//
// remote are the remote entries of resources and components (URLs, remote
// Git bases) and the generator files given as URLs, left out of the build:
// kustomize-controller fetches them, the validator never does, and renders
// the rest.
func kustomizeBuild(fs filesys.FileSystem, dir string) (res resmap.ResMap, warnings []string, remote []remoteSource, err error) {
	res, warnings, remote, alone, err := build(fs, dir, false)
	if alone {
		res, warnings, remote, _, err = build(fs, dir, true)
	}
	return res, warnings, remote, err
}

// build runs one build, alone (holding buildMu) or shared. A shared build
// reports again, and nothing else, when it must run alone: the schema
// needs a reset, or the kustomization changes it.
func build(fs filesys.FileSystem, dir string, alone bool) (res resmap.ResMap, warnings []string, remote []remoteSource, again bool, err error) {
	if alone {
		buildMu.Lock()
		defer buildMu.Unlock()
	} else {
		buildMu.RLock()
		defer buildMu.RUnlock()
		if schemaDirty {
			return nil, nil, nil, true, nil
		}
	}
	if err := stderrTap.open(); err != nil {
		return nil, nil, nil, false, err
	}
	defer func() { warnings = append(warnings, stderrTap.close()...) }()
	defer func() {
		if r := recover(); r != nil {
			if !alone {
				again = true
				return
			}
			err = fmt.Errorf("recovered from kustomize build panic: %v", r)
			schemaDirty = true
		}
	}()
	if alone && schemaDirty {
		openapi.ResetOpenAPI()
		_ = openapi.Schema()
		schemaDirty = false
	}
	watch := &schemaWatch{FileSystem: fs, shared: !alone}
	k := krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	res, err = k.Run(watch, dir)
	if watch.changesSchema {
		if !alone {
			return nil, nil, nil, true, nil
		}
		schemaDirty = true
	}
	return res, nil, watch.remote, false, err
}

// schemaFieldRe matches the top-level kustomization fields that change the
// global schema (patches may mention "crds:" deeper down).
var schemaFieldRe = regexp.MustCompile(`(?m)^(openapi|crds):`)

// schemaWatch notes when a kustomization read during a build can change
// the global schema, and keeps kustomize from fetching anything remote.
type schemaWatch struct {
	filesys.FileSystem
	// shared is set when other builds run at the same time: the build is
	// then stopped at a kustomization that changes the schema.
	shared        bool
	changesSchema bool
	// remote are the remote resources, components and generator files
	// left out.
	remote []remoteSource
}

// remoteSource is one remote entry of a kustomization left out of a build:
// a resource or component, or a generator's file (generator set).
type remoteSource struct {
	url string
	// generator is "configMapGenerator NAME" or "secretGenerator NAME"
	// for a file source, and kustomization the file that names it.
	generator, kustomization string
}

func (w *schemaWatch) ReadFile(path string) ([]byte, error) {
	data, err := w.FileSystem.ReadFile(path)
	if err != nil || !isKustomizationName(filepath.Base(path)) {
		return data, err
	}
	if schemaFieldRe.Match(data) {
		w.changesSchema = true
		if w.shared {
			return nil, errChangesSchema
		}
	}
	kept, dropped, err := withoutRemote(w.FileSystem, path, data)
	if err != nil {
		return data, nil // kustomize reports the syntax error
	}
	w.remote = append(w.remote, dropped...)
	return kept, nil
}

// withoutRemote drops the remote entries (a URL, a remote Git base) from a
// kustomization's resources and components, and the files and env files
// given as URLs from its generators, and returns them. An entry that names
// an existing local path is kept whatever it looks like. A generator
// without its remote files still generates its object, from the rest.
func withoutRemote(fs filesys.FileSystem, path string, data []byte) ([]byte, []remoteSource, error) {
	if !bytes.Contains(data, []byte("://")) && !remoteHintRe.Match(data) {
		return data, nil, nil
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return data, nil, err
	}
	var dropped []remoteSource
	// filter drops the scalar items of the sequence under key in n that
	// drop reports.
	filter := func(n *kyaml.RNode, key string, drop func(string) bool) {
		f := n.Field(key)
		if f == nil || f.Value.YNode().Kind != kyaml.SequenceNode {
			return
		}
		list := f.Value.YNode()
		kept := list.Content[:0]
		for _, it := range list.Content {
			if it.Kind != kyaml.ScalarNode || !drop(it.Value) {
				kept = append(kept, it)
			}
		}
		list.Content = kept
	}
	for _, field := range []string{"resources", "components"} {
		filter(node, field, func(v string) bool {
			if isRemote(v) && !fs.Exists(filepath.Join(filepath.Dir(path), v)) {
				dropped = append(dropped, remoteSource{url: v})
				return true
			}
			return false
		})
	}
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		gens := node.Field(field)
		if gens == nil || gens.Value.YNode().Kind != kyaml.SequenceNode {
			continue
		}
		for _, gen := range gens.Value.YNode().Content {
			g := kyaml.NewRNode(gen)
			name := ""
			if n := g.Field("name"); n != nil {
				name = n.Value.YNode().Value
			}
			for _, key := range []string{"files", "envs"} {
				filter(g, key, func(v string) bool {
					src := v
					if _, after, ok := strings.Cut(v, "="); ok {
						src = after // key=source
					}
					if !strings.Contains(src, "://") {
						return false
					}
					dropped = append(dropped, remoteSource{url: src, generator: field + " " + name, kustomization: path})
					return true
				})
			}
		}
	}
	if len(dropped) == 0 {
		return data, nil, nil
	}
	out, err := node.String()
	if err != nil {
		return data, nil, err
	}
	return []byte(out), dropped, nil
}

// remoteHintRe finds text that may hold a remote base without a scheme
// (github.com/org/repo//path?ref=v1, git@host:org/repo).
var remoteHintRe = regexp.MustCompile(`git@|git::|\?ref=|` + knownGitHostRe.String()[1:])

// isRemote reports whether a resources entry is one kustomize fetches: a
// URL, or a remote Git base in one of kustomize's forms without a scheme.
func isRemote(p string) bool {
	hostForm := remoteHostRe.MatchString(p) &&
		(knownGitHostRe.MatchString(p) || strings.Contains(p, "//") || strings.Contains(p, "?ref="))
	return strings.Contains(p, "://") || strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "git::") || hostForm
}

// errChangesSchema stops a shared build at a kustomization that changes
// the schema, to be run again alone.
var errChangesSchema = errors.New("the kustomization changes the OpenAPI schema: build it alone")

func isKustomizationName(name string) bool {
	for _, n := range konfig.RecognizedKustomizationFileNames() {
		if n == name {
			return true
		}
	}
	return false
}

// BuildFiles runs a kustomize build of the kustomization.yaml in files
// (an in-memory tree, paths relative to its root), under the same lock as
// every other build. helm-controller's Kustomize post-renderer builds the
// same way.
func BuildFiles(files map[string][]byte) (resmap.ResMap, error) {
	fs := filesys.MakeFsInMemory()
	for p, data := range files {
		if err := fs.WriteFile(p, data); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	res, _, _, err := kustomizeBuild(fs, ".")
	return res, err
}

// tap captures os.Stderr while any build runs. Builds run in parallel, so
// what kustomize prints cannot be told apart by build: the last build of a
// run of overlapping ones gets the lines of them all.
type tap struct {
	mu       sync.Mutex
	users    int
	restore  func() []byte
	captured func([]byte) []string
}

func (t *tap) open() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users == 0 {
		restore, captured, err := captureStderr()
		if err != nil {
			return err
		}
		t.restore, t.captured = restore, captured
	}
	t.users++
	return nil
}

func (t *tap) close() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.users--; t.users > 0 {
		return nil
	}
	return t.captured(t.restore())
}

// captureStderr points os.Stderr at a pipe until restore is called;
// captured then returns the lines written. kustomize writes its
// deprecation warnings straight to os.Stderr; builds hold buildMu, which
// is what makes swapping the variable safe for kustomize's writes. A write
// from elsewhere in that window is captured too, and logged with them.
func captureStderr() (restore func() []byte, captured func([]byte) []string, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("capture kustomize's stderr: %w", err)
	}
	saved := os.Stderr
	os.Stderr = w
	out := make(chan []byte, 1)
	go func() {
		data, _ := io.ReadAll(r)
		r.Close()
		out <- data
	}()
	restore = func() []byte {
		os.Stderr = saved
		w.Close()
		return <-out
	}
	captured = func(data []byte) []string {
		var lines []string
		for l := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	return restore, captured, nil
}
