package web

import (
	"net/http"
	"testing"
)

// securityHeaders writes the header map directly: the names must already
// be in canonical form or lookups would miss them.
func TestSecurityHeaderNamesAreCanonical(t *testing.T) {
	for _, kv := range securityHeaderValues {
		if got := http.CanonicalHeaderKey(kv[0]); got != kv[0] {
			t.Errorf("header %q is not canonical (%q)", kv[0], got)
		}
	}
}
