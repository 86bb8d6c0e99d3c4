package ociimage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BuildFlags are the go build flags that make a binary depend only on the
// source and the Go toolchain: no local paths, no VCS stamp, no symbol table,
// no build id (which would otherwise hash the toolchain's cache actions).
var BuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// buildEnv pins every setting of the go command that changes the output for
// a platform, so that the caller's environment cannot.
func buildEnv(platform v1.Platform) []string {
	return []string{
		"CGO_ENABLED=0",
		"GOOS=" + platform.OS,
		"GOARCH=" + platform.Architecture,
		"GOAMD64=v1",
		"GOARM64=v8.0",
		"GOEXPERIMENT=",
		"GOFLAGS=-mod=readonly",
	}
}

// Compile builds the main package pkg (an import path or a ./relative path
// inside the module in dir) for platform into the file out, with
// BuildFlags, and returns the go command's combined output on failure.
func Compile(ctx context.Context, dir, pkg string, platform v1.Platform, out string) error {
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), buildEnv(platform)...)
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", pkg, platform, err, output.Bytes())
	}
	return nil
}

// GoVersion returns the version of the go command that Compile runs in dir
// (after any GOTOOLCHAIN switch), such as "go1.27.3".
func GoVersion(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Toolchain returns the toolchain named by the go.mod in dir: its
// "toolchain" line, or "go" plus its "go" line when there is none.
func Toolchain(dir string) (string, error) {
	name := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	var goLine, toolchain string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		switch fields[0] {
		case "go":
			goLine = "go" + fields[1]
		case "toolchain":
			toolchain = fields[1]
		}
	}
	switch {
	case toolchain != "":
		return toolchain, nil
	case goLine != "":
		return goLine, nil
	}
	return "", fmt.Errorf("%s has neither a toolchain nor a go line", name)
}
