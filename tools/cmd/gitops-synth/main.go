// Command gitops-synth writes a synthetic Flux repository with N
// Kustomizations, for benchmarks: gitops-synth -n 1000 -o DIR.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/homelab-gitops/homelab/tools/internal/synth"
)

func main() {
	n := flag.Int("n", 10, "number of application Kustomizations")
	out := flag.String("o", "", "output directory (created)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gitops-synth -n N -o DIR")
		os.Exit(2)
	}
	if err := synth.Generate(*out, *n); err != nil {
		fmt.Fprintf(os.Stderr, "gitops-synth: %v\n", err)
		os.Exit(1)
	}
}
