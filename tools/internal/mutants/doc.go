// Package mutants holds the validator's mutation test: single defects of
// the kinds people commit (a missing dependsOn target, a path typo, a
// cycle, a plaintext Secret ...) injected one at a time into healthy
// public Flux repositories and into this repository's own tree, each run
// through the validator as the command runs it, and classified as caught
// in the file the defect is in, caught in another file, or missed.
//
// The trees are in testdata (trimmed copies, provenance in its README);
// docs/validator-mutants.md holds the table the test prints (go test
// ./tools/internal/mutants -update-doc rewrites it).
package mutants
