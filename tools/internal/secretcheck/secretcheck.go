// Package secretcheck finds Secrets committed without SOPS encryption.
package secretcheck

import (
	"encoding/base64"
	"fmt"
	"regexp"
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
	return strings.Contains(s, "ENC[AES256_GCM,") && (strings.HasPrefix(s, "sops:") || strings.Contains(s, "\nsops:") || strings.Contains(s, `"sops":`))
}

// Committed returns a Secret's value (field "data" or "stringData", key)
// as the file has it, before postBuild substitution; ok is false when the
// file does not have it (a generator made the Secret).
type Committed func(field, key string) (value string, ok bool)

// varRefRe matches one ${VAR} reference, with an optional default.
var varRefRe = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-=][^}]*)?\}`)

// onlyVariables reports a value made of ${VAR} references and nothing
// else: its content comes from where the variables do.
func onlyVariables(v string) bool {
	return strings.Contains(v, "${") && strings.TrimSpace(varRefRe.ReplaceAllString(v, "")) == ""
}

// Check reports o when it is a Secret that carries values and is not
// SOPS-encrypted (no sops metadata, or values that are not ENC[...]). A
// value written as a ${VAR} reference (substituted from another, possibly
// encrypted, Secret) is not a value committed in plain text.
func Check(o *render.Object, committed Committed) []finding.Finding {
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
			if committed != nil {
				if raw, ok := committed(field, k); ok && onlyVariables(raw) {
					continue
				}
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
