// Command bootstrap-render prints the objects of one HelmRelease of the
// repository as helm-controller would install them (the validator's render
// of the chart from the chart mirror, with the HelmRelease's values and
// the cluster's substitutions), with Helm's ownership metadata, for
// applying before Flux exists: scripts/bootstrap-cni.sh applies Cilium
// this way and Flux's HelmRelease adopts it (docs/bootstrap.md).
//
//	bootstrap-render [-cluster homelab] -release kube-system/cilium [repo]
//
// The manifest goes to stdout, a summary to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/homelab-gitops/homelab/tools/internal/helmadopt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bootstrap-render:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap-render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cluster := fs.String("cluster", "", "the cluster (entry point) to render; may be empty when the repository has one")
	release := fs.String("release", "", "the HelmRelease as namespace/name")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	ns, name, ok := strings.Cut(*release, "/")
	if !ok || ns == "" || name == "" || fs.NArg() > 1 {
		fs.Usage()
		return fmt.Errorf("%w: want -release namespace/name and at most one repository directory", errUsage)
	}
	root := "."
	if fs.NArg() == 1 {
		root = fs.Arg(0)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := helmadopt.Render(ctx, root, *cluster, ns, name, log)
	if err != nil {
		return err
	}
	data, err := res.Manifest()
	if err != nil {
		return err
	}
	if _, err := stdout.Write(data); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bootstrap-render: %s (chart %s) -> Helm release %s/%s: %d objects (%s), %d hooks left to Helm\n",
		res.HelmRelease, res.Chart, res.ReleaseNamespace, res.ReleaseName, len(res.Objects), strings.Join(res.KindNames(), " "), res.Hooks)
	return nil
}
