// Package schemas embeds the CustomResourceDefinitions the validator uses
// offline. crds/ holds each file unchanged from its upstream repository (see
// crds/README.md for where and which version); compiled/ holds the same
// CRDs as gzipped JSON, one file per kind, which is what the validator
// reads: decoding the YAML took a fifth of a small repository's run.
// `go test ./tools/schemas -update` regenerates compiled/ from crds/, and
// the package's tests fail when it is stale.
package schemas

import "embed"

// Compiled holds compiled/<group>_<Kind>.json.gz: one
// CustomResourceDefinition as JSON each, the gzip header naming the crds/
// file it comes from. Names start with the API group and carry the kind, so
// a kind is found and decoded without reading any other file.
//
//go:embed compiled/*.json.gz
var Compiled embed.FS
