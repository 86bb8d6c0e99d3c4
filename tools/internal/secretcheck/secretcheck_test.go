package secretcheck

import (
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

func secret(data map[string]any) *render.Object {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "values", "namespace": "apps"},
		"data":     data,
	}}
	return &render.Object{U: u, File: "apps/kustomization.yaml", Owner: &render.Kustomization{}}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// A secretGenerator input that is a SOPS-encrypted file is decrypted by
// kustomize-controller: the generated Secret is not committed in plain
// text. A plain file is.
func TestGeneratedFromSOPSFile(t *testing.T) {
	tests := []struct {
		name  string
		value string
		plain bool
	}{
		{"encrypted file with its sops metadata first", b64("sops:\n    age:\n        - recipient: age1x\npassword: ENC[AES256_GCM,data:abc=,type:str]\n"), false},
		{"encrypted YAML values file", b64("password: ENC[AES256_GCM,data:abc=,iv:x=,tag:y=,type:str]\nsops:\n    age:\n        - recipient: age1x\n    version: 3.9.0\n"), false},
		{"encrypted JSON file", b64(`{"password": "ENC[AES256_GCM,data:abc=,type:str]", "sops": {"version": "3.9.0"}}`), false},
		{"one value of an encrypted dotenv file", b64("ENC[AES256_GCM,data:abc=,iv:x=,tag:y=,type:str]"), false},
		{"plain values file", b64("password: hunter2\n"), true},
		{"plain file that mentions sops", b64("sops:\n  note: not encrypted\npassword: hunter2\n"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := Check(secret(map[string]any{"values.yaml": tt.value}), nil)
			if got := len(fs) > 0; got != tt.plain {
				t.Errorf("reported %v, want %v: %+v", got, tt.plain, fs)
			}
		})
	}
}

// A value the file writes with ${VAR} references (alone, or a
// configuration file with them where its credentials go) comes from
// postBuild substitution (here from a SOPS-encrypted Secret): it is not
// committed in plain text. Literal values beside such values are a
// warning (likely settings); a Secret of literal values only is an error.
func TestSubstitutedValues(t *testing.T) {
	committed := map[string]string{
		"clientSecret": "${OAUTH_CLIENT_SECRET}",
		"config.yaml":  "issuer: https://id.example.com\nclientSecret: ${OIDC_CLIENT_SECRET}\n",
		"repository":   "s3:http://minio:9000/restic/app",
		"password":     "hunter2",
	}
	lookup := func(field, key string) (string, bool) {
		v, ok := committed[key]
		return v, ok && field == "stringData"
	}
	check := func(keys ...string) []finding.Finding {
		o := secret(nil)
		data := map[string]any{}
		for _, k := range keys {
			data[k] = "rendered " + k
		}
		o.U.Object["stringData"] = data
		return Check(o, lookup)
	}
	if fs := check("clientSecret", "config.yaml"); len(fs) != 0 {
		t.Errorf("values written with variables reported: %+v", fs)
	}
	fs := check("clientSecret", "repository")
	if len(fs) != 1 || fs[0].Severity != finding.Warning || !strings.Contains(fs[0].Message, "stringData.repository in plain text, while its other 1 value(s) come from variables") {
		t.Errorf("a literal value beside a variable one: %+v, want one warning naming stringData.repository", fs)
	}
	if fs := check("password", "repository"); len(fs) != 1 || fs[0].Severity != finding.Error {
		t.Errorf("literal values only: %+v, want one error", fs)
	}
}

// A Secret a secretGenerator makes from a configuration file whose
// credentials are ${VAR} references, with substitution turned off (the
// application expands them), is not plain text.
func TestGeneratedTemplate(t *testing.T) {
	o := secret(map[string]any{"config.yaml": b64("oauth:\n  clientId: abc\n  clientSecret: ${OIDC_CLIENT_SECRET}\n")})
	if fs := Check(o, nil); len(fs) != 0 {
		t.Errorf("a generated template reported: %+v", fs)
	}
	if fs := Check(secret(map[string]any{"config.yaml": b64("oauth:\n  clientSecret: hunter2\n")}), nil); len(fs) != 1 {
		t.Errorf("a generated plain file not reported: %+v", fs)
	}
}
