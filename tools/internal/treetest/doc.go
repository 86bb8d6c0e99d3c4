// Package treetest holds the tests of the GitOps tree itself: clusters/,
// infrastructure/ and apps/.
//
// The tests render every Flux Kustomization of clusters/homelab the way
// kustomize-controller does (kustomize build, SOPS decryption with the test
// key, postBuild substitution from cluster-vars and cluster-secrets), decode
// every built-in, Flux and Gateway API object strictly, and check the rules
// that must hold everywhere: every Secret SOPS-encrypted, images pinned by
// the digest of a real build (never the all-zero placeholder), no
// LoadBalancer Service, no HTTP-01 solver, no privileged pod, no admin UI
// route without authentication.
//
// The age identity under testdata/sops is a TEST ONLY key: the Secrets in the
// repository hold example values encrypted to it.
package treetest
