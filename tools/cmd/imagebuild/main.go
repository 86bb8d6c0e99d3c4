// Command imagebuild builds the images of the fitness services (src/cmd/web
// and src/cmd/consumer) and of the backup jobs (src/cmd/backup) reproducibly, offline and without a container
// runtime: for each, a multi-platform OCI image index (linux/amd64,
// linux/arm64) holding the statically linked program on an empty base,
// written as an OCI image layout under -out. It prints one line per image,
// "<name> sha256:<index digest>".
//
// The digest depends only on the source and on the Go toolchain, which must
// be the one go.mod's toolchain line names; so the digest printed here is
// the digest that the images workflow pushes for the same commit.
//
// With -push <repository>:<tag> (one image only), it pushes the index it
// built to a registry with the credentials of the Docker config
// (authn.DefaultKeychain). With -sbom, it writes an SPDX 2.3 SBOM of each
// image next to its layout.
//
//	go run ./tools/cmd/imagebuild                      # every image, print digests
//	go run ./tools/cmd/imagebuild -sbom -push ghcr.io/homelab-gitops/fitness-web:v1.2.3 web
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}
