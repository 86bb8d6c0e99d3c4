// Command gitops-synth writes a synthetic Flux repository with N
// Kustomizations, for benchmarks: gitops-synth -n 1000 -o DIR. -shapes
// picks the application layouts (default all, in turn), for example
// -shapes plain for a repository of plain-manifest directories only.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/synth"
)

func main() {
	n := flag.Int("n", 10, "number of application Kustomizations")
	out := flag.String("o", "", "output directory (created)")
	shapes := flag.String("shapes", strings.Join(synth.Shapes, ","), "comma-separated application shapes, taken in turn")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gitops-synth -n N -o DIR")
		os.Exit(2)
	}
	if err := synth.GenerateShapes(*out, *n, strings.Split(*shapes, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-synth: %v\n", err)
		os.Exit(1)
	}
}
