package validator

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestNewLines(t *testing.T) {
	before := "a.yaml:1: error x\n1 error(s)\n"
	after := "a.yaml:1: error x\nweb.yaml:8:3: error schema-invalid replicas\n2 error(s)\n"
	got := NewLines(before, after)
	want := []string{"web.yaml:8:3: error schema-invalid replicas", "2 error(s)"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("NewLines = %q, want %q", got, want)
	}
	if !Mentions(got, "replicas") || Mentions(got, "traefik") {
		t.Errorf("Mentions misreads %q", got)
	}
	if l := FirstLine("x\nweb.yaml: replicas\n", "replicas"); l != "web.yaml: replicas" {
		t.Errorf("FirstLine = %q", l)
	}
	if l := FirstLine("x\ny\n", "replicas"); l != "x" {
		t.Errorf("FirstLine without a match = %q, want the first line", l)
	}
}

func TestRunReportsTheExitCode(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "validate")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"in $(basename \"$PWD\") with $1\"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code, err := Validator{Bin: script, Args: []string{"--output"}}.Run(context.Background(), tree)
	if err != nil || code != 1 || out != "in tree with --output\n" {
		t.Errorf("Run = %q, %d, %v; want the output in the tree and exit 1", out, code, err)
	}
	if _, _, err := (Validator{Bin: filepath.Join(dir, "missing")}).Run(context.Background(), tree); err == nil {
		t.Error("a missing binary: no error")
	}
}
