// Package secretcheck finds Secrets committed without SOPS encryption.
package secretcheck

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
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

// decoded is a data value's text (base64-decoded), or a stringData value.
func decoded(field, v string) string {
	if field != "data" {
		return v
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return v
	}
	return string(raw)
}

// Committed returns a Secret's value (field "data" or "stringData", key)
// as the file has it, before postBuild substitution; ok is false when the
// file does not have it (a generator made the Secret).
type Committed func(field, key string) (value string, ok bool)

// varRefRe matches one ${VAR} reference, with an optional default.
var varRefRe = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-=][^}]*)?\}`)

// templated reports a value that references variables (${VAR} alone, or
// a configuration file with ${VAR} where its credentials go): what is
// secret in it comes from where the variables do.
func templated(v string) bool {
	return varRefRe.MatchString(v)
}

// Check reports o when it is a Secret that carries values and is not
// SOPS-encrypted (no sops metadata, or values that are not ENC[...]). A
// value that references variables (substituted from another, possibly
// encrypted, Secret) is not a value committed in plain text. When some
// values do and others are literal, the author keeps the credentials in
// variables and the literal ones are likely plain settings (a repository
// URL): a warning, not an error.
func Check(o *render.Object, committed Committed) []finding.Finding {
	if o.U.GetKind() != "Secret" || o.U.GetAPIVersion() != "v1" {
		return nil
	}
	var plain []string
	fromVariables := 0
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
				if raw, ok := committed(field, k); ok && templated(raw) {
					fromVariables++
					continue
				}
			}
			// A generated Secret with substitution turned off keeps the
			// references of its file.
			if rendered := decoded(field, s); templated(rendered) {
				fromVariables++
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
	if fromVariables > 0 && !o.Encrypted {
		slices.Sort(plain)
		f.Severity = finding.Warning
		f.Message = fmt.Sprintf("Secret %s has %s in plain text, while its other %d value(s) come from variables", o.ID(), strings.Join(plain, ", "), fromVariables)
		f.Hint = "If these values are not sensitive, keep the Secret as it is (or move them to a ConfigMap); if they are, substitute them from an encrypted Secret like the others or encrypt the file with SOPS."
	}
	return []finding.Finding{f}
}
