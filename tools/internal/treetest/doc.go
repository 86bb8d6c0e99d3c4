// Package treetest holds the tests of the GitOps tree itself: clusters/,
// infrastructure/ and apps/.
//
// The tree is rendered by the validator (tools/internal/validate, the entry
// point of tools/cmd/gitops-validate) with the repository's config and
// policy pack, the way `make validate` runs it; there is no second
// renderer here. The tests assert on what it rendered and found: every
// Kustomization of clusters/homelab builds, its settings and dependency
// order, every built-in, Flux and Gateway API object decodes strictly,
// every Secret is SOPS-encrypted to the TEST ONLY key the end-to-end test
// decrypts with, images are pinned by the digest of a real build (never
// the all-zero placeholder), no LoadBalancer Service, no HTTP-01 solver, no
// privileged pod, no admin UI route without authentication, and the
// validator reports no error, no warning and no finding of the pack.
//
// The age identity under testdata/sops is a TEST ONLY key: the Secrets in the
// repository hold example values encrypted to it.
package treetest
