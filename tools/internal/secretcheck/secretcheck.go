// Package secretcheck finds Secrets committed without SOPS encryption.
package secretcheck

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// sopsGenerated reports a data value that a secretGenerator took from a
// SOPS-encrypted file (a whole YAML or JSON document with its sops
// metadata, or one ENC[...] value of an encrypted dotenv file):
// kustomize-controller decrypts those generator inputs before it builds.
func sopsGenerated(b64 string) bool {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return false
	}
	s := string(raw)
	if strings.HasPrefix(s, "ENC[") {
		return true
	}
	return strings.Contains(s, "ENC[AES256_GCM,") && (strings.Contains(s, "\nsops:") || strings.Contains(s, `"sops":`))
}

// Check reports o when it is a Secret that carries values and is not
// SOPS-encrypted (no sops metadata, or values that are not ENC[...]).
func Check(o *render.Object) []finding.Finding {
	if o.U.GetKind() != "Secret" || o.U.GetAPIVersion() != "v1" {
		return nil
	}
	var plain []string
	for _, field := range []string{"data", "stringData"} {
		m, _ := o.U.Object[field].(map[string]any)
		for k, v := range m {
			s, _ := v.(string)
			if s == "" {
				continue
			}
			if o.Encrypted && strings.HasPrefix(s, "ENC[") {
				continue
			}
			if field == "data" && sopsGenerated(s) {
				continue
			}
			plain = append(plain, field+"."+k)
		}
	}
	if len(plain) == 0 {
		return nil
	}
	var msg string
	if o.Encrypted {
		msg = fmt.Sprintf("Secret %s has sops metadata but values in plain text: %s", o.ID(), strings.Join(plain, ", "))
	} else {
		msg = fmt.Sprintf("Secret %s is committed in plain text (%d value(s)); anyone with read access to the repository can read it", o.ID(), len(plain))
	}
	f := finding.New(finding.SecretPlain, o.File, 0, 0, o.FindingObject(), msg)
	f.Kustomization = o.Owner.Ref.String()
	return []finding.Finding{f}
}
