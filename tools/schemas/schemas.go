// Package schemas embeds the CustomResourceDefinitions the validator uses
// offline. Each file comes unchanged from its upstream repository; see
// crds/README.md for where and which version.
package schemas

import "embed"

// CRDs holds crds/*.yaml. File names start with the API group
// ("cert-manager.io_certificates.yaml"), so a group's files can be loaded
// on demand.
//
//go:embed crds/*.yaml
var CRDs embed.FS
