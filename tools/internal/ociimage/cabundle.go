package ociimage

import (
	"bytes"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// PublicRoots returns, as one PEM bundle, the public root certificates of the
// Mozilla NSS trust store that golang.org/x/crypto/x509roots/fallback carries
// at the version go.mod requires, so the bundle changes only with go.mod.
// Roots with an NSS distrust-after date are left out: a PEM file cannot carry
// that constraint, and a root being phased out is not needed.
func PublicRoots() ([]byte, error) {
	var buf bytes.Buffer
	n := 0
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, fmt.Errorf("encode root certificate: %w", err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no root certificates in golang.org/x/crypto/x509roots/fallback/bundle")
	}
	return buf.Bytes(), nil
}
