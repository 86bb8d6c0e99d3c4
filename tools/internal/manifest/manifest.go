// Package manifest reads YAML files with positions: every document keeps its
// node tree so that a finding can point at the line and column of a field,
// syntax errors carry line and column, and duplicate keys are reported.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v4"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/memo"
)

// Doc is one YAML document of a file.
type Doc struct {
	File  string
	Index int
	// Root is the document's top node (usually a mapping). It is nil in
	// a file from a Cache, which keeps the text instead: use Lookup and
	// Scalar.
	Root       *yaml.Node
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	line, col  int
	file       *File
}

// File is a parsed YAML file.
type File struct {
	Path     string
	Docs     []*Doc
	Findings []finding.Finding

	// A file from a Cache keeps its text, not its node trees: a run
	// caches every file it renders and needs the trees of the few a
	// finding points into (the trees took a third of the heap).
	data  []byte
	once  sync.Once
	roots []*yaml.Node
}

// Parse reads every document of data. Syntax errors and duplicate keys become
// findings on the file; documents before a syntax error are kept.
func Parse(path string, data []byte) *File {
	f := &File{Path: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, col := 0, 0
			var pe *yaml.ParserError
			if errors.As(err, &pe) {
				line, col = pe.Line, pe.Column+1 // the parser counts columns from 0
				if l := problemLine(data, pe.Line, pe.Message); l > line {
					line, col = l, indent(data, l)+1
				}
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if pe != nil {
				msg = pe.Message
			} else if l := errorLine(data, err.Error()); l > 0 {
				// An error without a position (an unknown anchor).
				line, col = l, indent(data, l)+1
			}
			f.Findings = append(f.Findings, finding.New(finding.ParseSyntax, path, line, col, finding.Object{},
				fmt.Sprintf("YAML syntax error: %s", msg)))
			break
		}
		root := &n
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			root = n.Content[0]
		}
		d := &Doc{File: path, Index: i, Root: root, line: root.Line, col: root.Column}
		d.APIVersion = scalar(root, "apiVersion")
		d.Kind = scalar(root, "kind")
		if md := child(root, "metadata"); md != nil {
			d.Name = scalar(md, "name")
			d.Namespace = scalar(md, "namespace")
		}
		f.Docs = append(f.Docs, d)
		f.Findings = append(f.Findings, duplicateKeys(path, d, root)...)
	}
	return f
}

// Object names the document as a finding object.
func (d *Doc) Object() finding.Object {
	return finding.Object{APIVersion: d.APIVersion, Kind: d.Kind, Namespace: d.Namespace, Name: d.Name}
}

// Line is the document's first line.
func (d *Doc) Line() int {
	return d.line
}

// root returns the document's tree, parsing the file's text again for a
// file from a Cache.
func (d *Doc) root() *yaml.Node {
	if d.Root != nil || d.file == nil {
		return d.Root
	}
	f := d.file
	f.once.Do(func() {
		for _, doc := range Parse(f.Path, f.data).Docs {
			f.roots = append(f.roots, doc.Root)
		}
	})
	if d.Index < len(f.roots) {
		return f.roots[d.Index]
	}
	return nil
}

// Lookup returns the position of the deepest node along path (map keys, or
// list indexes as decimal strings). It stops at the last node that exists,
// so a missing field points at its parent.
func (d *Doc) Lookup(path ...string) (line, col int) {
	if len(path) == 0 && d.file != nil {
		// The document's own position needs no tree.
		return d.line, d.col
	}
	n := d.root()
	if n == nil {
		return 1, 1
	}
	line, col = n.Line, n.Column
	for _, p := range path {
		var next *yaml.Node
		var keyNode *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					keyNode, next = n.Content[i], n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if idx, err := strconv.Atoi(p); err == nil && idx >= 0 && idx < len(n.Content) {
				next = n.Content[idx]
			}
		}
		if next == nil {
			return line, col
		}
		if keyNode != nil {
			line, col = keyNode.Line, keyNode.Column
		} else {
			line, col = next.Line, next.Column
		}
		n = next
	}
	return line, col
}

// Scalar returns the scalar value at path of map keys, as written in the
// file (before any substitution), and whether there is one.
func (d *Doc) Scalar(path ...string) (string, bool) {
	n := d.root()
	for _, p := range path {
		if n = child(n, p); n == nil {
			return "", false
		}
	}
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	return n.Value, true
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	c := child(n, key)
	if c == nil || c.Kind != yaml.ScalarNode {
		return ""
	}
	return c.Value
}

func duplicateKeys(path string, d *Doc, n *yaml.Node) []finding.Finding {
	var out []finding.Finding
	var walk func(n *yaml.Node, trail []string)
	walk = func(n *yaml.Node, trail []string) {
		switch n.Kind {
		case yaml.MappingNode:
			seen := make(map[string]*yaml.Node, len(n.Content)/2)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Value != "<<" {
					if first, ok := seen[k.Value]; ok {
						out = append(out, finding.New(finding.ParseDuplicateKey, path, k.Line, k.Column, d.Object(),
							fmt.Sprintf("duplicate key %q in %s (first at line %d); only the last value is kept",
								k.Value, fieldPath(trail), first.Line)))
					} else {
						seen[k.Value] = k
					}
				}
				walk(n.Content[i+1], append(trail, k.Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(trail, strconv.Itoa(i)))
			}
		}
	}
	walk(n, nil)
	return out
}

func fieldPath(trail []string) string {
	if len(trail) == 0 {
		return "the document root"
	}
	return "." + strings.Join(trail, ".")
}

// Cache parses each file once and shares the result between goroutines.
type Cache struct {
	files memo.Map[string, *File]
	read  func(string) ([]byte, error)
}

// NewCache returns a cache that reads files with read.
func NewCache(read func(string) ([]byte, error)) *Cache {
	return &Cache{read: read}
}

// Get returns the parsed file at path (a repository-relative path).
func (c *Cache) Get(path string) (*File, error) {
	return c.files.Do(path, func() (*File, error) {
		data, err := c.read(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		f := Parse(path, data)
		f.data = data
		for _, d := range f.Docs {
			d.Root, d.file = nil, f
		}
		return f, nil
	})
}

// Find returns the document of the file that best matches kind and name:
// the exact kind and name, else the first document whose name is contained
// in name (kustomize adds prefixes and suffixes), else the first of the kind.
func (f *File) Find(kind, name string) *Doc {
	var byKind, byPart *Doc
	for _, d := range f.Docs {
		if d.Kind != kind {
			continue
		}
		if d.Name == name {
			return d
		}
		if byPart == nil && d.Name != "" && strings.Contains(name, d.Name) {
			byPart = d
		}
		if byKind == nil {
			byKind = d
		}
	}
	if byPart != nil {
		return byPart
	}
	return byKind
}

// problemLine finds the line a YAML syntax error is on. go-yaml reports
// the start of the enclosing mapping or sequence when there is one (a
// "did not find expected key" at the mapping's first key, lines above the
// stray indentation). Prefixes of the stream that end at a line boundary
// parse as long as the bad line is not in them: the first one from line
// from on that fails with the same problem ends at the bad line. The scan
// is bounded; 0 means not found.
func problemLine(data []byte, from int, problem string) int {
	return failingPrefix(data, from, from+500, func(err error) bool {
		var pe *yaml.ParserError
		return errors.As(err, &pe) && pe.Message == problem
	})
}

// errorLine finds the line of a decoding error that carries no position,
// such as an alias of an anchor that does not exist: the shortest prefix
// of whole lines that fails with the same error ends at it. The scan is
// bounded (2,000 lines); 0 means not found.
func errorLine(data []byte, msg string) int {
	return failingPrefix(data, 1, 2000, func(err error) bool { return err.Error() == msg })
}

// failingPrefix returns the first n from from on, below limit, such that
// the first n lines of data fail to decode with an error that match
// accepts, or 0.
func failingPrefix(data []byte, from, limit int, match func(error) bool) int {
	end := 0
	for n := 1; end < len(data) && n < limit; n++ {
		i := bytes.IndexByte(data[end:], '\n')
		if i < 0 {
			end = len(data)
		} else {
			end += i + 1
		}
		if n < from {
			continue
		}
		if err := decodeAll(data[:end]); err != nil && match(err) {
			return n
		}
	}
	return 0
}

func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// indent is the number of leading spaces of line n (1-based) of data.
func indent(data []byte, n int) int {
	lines := bytes.SplitN(data, []byte("\n"), n+1)
	if n > len(lines) {
		return 0
	}
	l := lines[n-1]
	return len(l) - len(bytes.TrimLeft(l, " "))
}
