package main

import (
	"errors"
	"go/parser"
	"go/token"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string // image names
		push    string
		wantErr string
	}{
		{name: "defaults to every image", args: nil, want: []string{"web", "consumer", "backup"}},
		{name: "one image", args: []string{"consumer"}, want: []string{"consumer"}},
		{name: "a name twice builds once", args: []string{"web", "web"}, want: []string{"web"}},
		{name: "push one", args: []string{"-push", "ghcr.io/homelab-gitops/fitness-web:v1.2.3", "web"}, want: []string{"web"}, push: "ghcr.io/homelab-gitops/fitness-web:v1.2.3"},
		{name: "unknown image", args: []string{"db"}, wantErr: `unknown image "db"`},
		{name: "push two", args: []string{"-push", "ghcr.io/x/y:v1"}, wantErr: "exactly one image"},
		{name: "push without tag", args: []string{"-push", "ghcr.io/x/y", "web"}, wantErr: "want repository:tag"},
		{name: "unknown flag", args: []string{"-platform", "linux/riscv64"}, wantErr: "not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(tt.args, io.Discard)
			if tt.wantErr != "" {
				var usage usageError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &usage) {
					t.Fatalf("error %v, want a usage error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, im := range o.images {
				got = append(got, im.name)
			}
			if !slices.Equal(got, tt.want) || o.push != tt.push {
				t.Errorf("images %v push %q, want %v %q", got, o.push, tt.want, tt.push)
			}
			if o.out != filepath.Join(".cache", "images") {
				t.Errorf("out %q", o.out)
			}
		})
	}
}

// TestServicesCarryFallbackRoots checks that every image's main package
// imports the fallback CA roots: the image has a CA bundle of its own, but
// the program must also verify public servers where the system has none.
func TestServicesCarryFallbackRoots(t *testing.T) {
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			file := filepath.Join("..", "..", "..", filepath.FromSlash(im.pkg), "main.go")
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name.Name != "main" {
				t.Fatalf("%s is package %s, not a main package", file, f.Name.Name)
			}
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); p == "golang.org/x/crypto/x509roots/fallback" {
					return
				}
			}
			t.Errorf("%s does not import golang.org/x/crypto/x509roots/fallback", file)
		})
	}
}
