package secretcheck

import (
	"encoding/base64"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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

// A value the file writes as ${VAR} references comes from postBuild
// substitution (here from a SOPS-encrypted Secret, rendered as its
// placeholder): it is not committed in plain text; text around the
// reference is.
func TestSubstitutedValues(t *testing.T) {
	committed := map[string]string{
		"clientSecret": "${OAUTH_CLIENT_SECRET}",
		"url":          "https://${DOMAIN:=example.com}/callback",
	}
	lookup := func(field, key string) (string, bool) {
		v, ok := committed[key]
		return v, ok && field == "stringData"
	}
	o := secret(nil)
	o.U.Object["stringData"] = map[string]any{"clientSecret": "sops-oauth-client-secret"}
	if fs := Check(o, lookup); len(fs) != 0 {
		t.Errorf("a value written as ${OAUTH_CLIENT_SECRET} reported: %+v", fs)
	}
	o.U.Object["stringData"] = map[string]any{"url": "https://example.com/callback"}
	if fs := Check(o, lookup); len(fs) != 1 {
		t.Errorf("a value with text around its variable not reported")
	}
}
