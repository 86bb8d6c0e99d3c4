package schemas

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "regenerate compiled/ from crds/")

// compiled is what compiled/ must hold: file name -> (source, JSON).
type compiled map[string]struct {
	source string
	json   []byte
}

// compile converts every CustomResourceDefinition document of crds/*.yaml
// to compact JSON, named <group>_<Kind>.json.gz.
func compile(t *testing.T) compiled {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRD files in crds/ (%v)", err)
	}
	out := compiled{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			var crd struct {
				Kind string `json:"kind"`
				Spec struct {
					Group string `json:"group"`
					Names struct {
						Kind string `json:"kind"`
					} `json:"names"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(js, &crd); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			if crd.Kind != "CustomResourceDefinition" {
				continue
			}
			name := fmt.Sprintf("%s_%s.json.gz", crd.Spec.Group, crd.Spec.Names.Kind)
			if prev, ok := out[name]; ok {
				t.Fatalf("%s: kind %s/%s is declared by %s too", file, crd.Spec.Group, crd.Spec.Names.Kind, prev.source)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, js); err != nil {
				t.Fatal(err)
			}
			out[name] = struct {
				source string
				json   []byte
			}{filepath.Base(file), compact.Bytes()}
		}
	}
	return out
}

// TestCompiledUpToDate fails when compiled/ does not hold exactly the CRDs
// of crds/; -update rewrites it.
func TestCompiledUpToDate(t *testing.T) {
	want := compile(t)
	if *update {
		if err := os.RemoveAll("compiled"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir("compiled", 0o755); err != nil {
			t.Fatal(err)
		}
		for name, c := range want {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Header = gzip.Header{Name: c.source, ModTime: time.Unix(0, 0).UTC()}
			if _, err := zw.Write(c.json); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("compiled", name), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	entries, err := fs.ReadDir(Compiled, "compiled")
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, e := range entries {
		have = append(have, e.Name())
		c, ok := want[e.Name()]
		if !ok {
			t.Errorf("compiled/%s matches no CRD in crds/; run go test ./tools/schemas -update", e.Name())
			continue
		}
		f, err := Compiled.Open("compiled/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("compiled/%s: %v", e.Name(), err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("compiled/%s: %v", e.Name(), err)
		}
		if zr.Name != c.source || !bytes.Equal(got, c.json) {
			t.Errorf("compiled/%s is stale (from %q, want crds/%s); run go test ./tools/schemas -update", e.Name(), zr.Name, c.source)
		}
	}
	for name := range want {
		if !slices.Contains(have, name) {
			t.Errorf("compiled/%s is missing; run go test ./tools/schemas -update", name)
		}
	}
}
