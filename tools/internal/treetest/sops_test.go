package treetest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// testIdentityPath is the TEST ONLY age identity the repository's Secrets are
// encrypted to (see .sops.yaml).
var testIdentityPath = filepath.Join("testdata", "sops", "TEST-ONLY-age.agekey")

// encValue matches one SOPS-encrypted value.
var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),type:([a-z]+)\]$`)

// secretFields are the fields that .sops.yaml encrypts.
var secretFields = []string{"data", "stringData"}

func loadTestIdentity(t *testing.T) age.Identity {
	t.Helper()
	f, err := os.Open(testIdentityPath)
	if err != nil {
		t.Fatalf("open test identity: %v", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		t.Fatalf("parse test identity: %v", err)
	}
	if len(ids) != 1 {
		t.Fatalf("test identity file holds %d identities, want 1", len(ids))
	}
	return ids[0]
}

// sopsRecipients returns the age recipients of a SOPS-encrypted object.
func sopsRecipients(obj map[string]any) []map[string]any {
	meta, _ := obj["sops"].(map[string]any)
	entries, _ := meta["age"].([]any)
	var out []map[string]any
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// checkEncrypted reports why a Secret is not fully SOPS-encrypted, or "" when
// every data and stringData value is an ENC[...] value with age recipients.
func checkEncrypted(obj map[string]any) string {
	if len(sopsRecipients(obj)) == 0 {
		return "Secret is not SOPS-encrypted (no sops.age metadata): encrypt it with `sops --encrypt --in-place`"
	}
	for _, field := range secretFields {
		values, _ := obj[field].(map[string]any)
		for k, v := range values {
			s, ok := v.(string)
			if !ok || !encValue.MatchString(s) {
				return fmt.Sprintf("Secret value %s.%s is in plain text: encrypt the file again with sops", field, k)
			}
		}
	}
	return ""
}

// sopsDataKey decrypts the SOPS data key of obj with id: the key that
// encrypts every value of the object, which kustomize-controller opens
// with the sops-age Secret before it decrypts the values.
func sopsDataKey(obj map[string]any, id age.Identity) ([]byte, error) {
	var errs []error
	for _, r := range sopsRecipients(obj) {
		enc, _ := r["enc"].(string)
		plain, err := age.Decrypt(armor.NewReader(strings.NewReader(enc)), id)
		if err != nil {
			errs = append(errs, fmt.Errorf("recipient %v: %w", r["recipient"], err))
			continue
		}
		key, err := io.ReadAll(plain)
		if err != nil {
			return nil, fmt.Errorf("read data key: %w", err)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("data key is %d bytes, want 32", len(key))
		}
		return key, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("no age recipient")
	}
	return nil, fmt.Errorf("decrypt data key: %w", errors.Join(errs...))
}

func TestSOPSConfig(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join(repoRoot(t), ".sops.yaml"))
	if err != nil {
		t.Fatalf("read .sops.yaml: %v", err)
	}
	if !strings.Contains(string(cfg), "encrypted_regex: ^(data|stringData)$") {
		t.Errorf(".sops.yaml must encrypt only data and stringData")
	}
	if !regexp.MustCompile(`(?m)^\s+age:\s+age1[0-9a-z]{58}\s*$`).Match(cfg) {
		t.Errorf(".sops.yaml names no age recipient")
	}
}

func TestCheckEncrypted(t *testing.T) {
	tests := []struct {
		name string
		obj  map[string]any
		want bool // a problem is reported
	}{
		{"no sops metadata", map[string]any{"kind": "Secret", "stringData": map[string]any{"a": "b"}}, true},
		{"plain value beside encrypted metadata", map[string]any{
			"kind":       "Secret",
			"stringData": map[string]any{"a": "b"},
			"sops":       map[string]any{"age": []any{map[string]any{"recipient": "age1x", "enc": "x"}}},
		}, true},
		{"encrypted", map[string]any{
			"kind":       "Secret",
			"stringData": map[string]any{"a": "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"},
			"sops":       map[string]any{"age": []any{map[string]any{"recipient": "age1x", "enc": "x"}}},
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkEncrypted(tt.obj) != ""; got != tt.want {
				t.Errorf("checkEncrypted() reported %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSecretsOpenWithTheTestKey checks, while .sops.yaml names the TEST ONLY
// key (the repository's example secrets), that every encrypted Secret the
// validator rendered is encrypted to it and applied by a Kustomization that
// decrypts: the end-to-end test decrypts them with that key, as the
// flux-system/sops-age Secret. A repository that moved to its own key is
// not checked here; its Secrets are still checked for encryption
// (checkEncrypted).
func TestSecretsOpenWithTheTestKey(t *testing.T) {
	id := loadTestIdentity(t)
	cfg, err := os.ReadFile(filepath.Join(repoRoot(t), ".sops.yaml"))
	if err != nil {
		t.Fatalf("read .sops.yaml: %v", err)
	}
	x, ok := id.(*age.X25519Identity)
	if !ok || !strings.Contains(string(cfg), x.Recipient().String()) {
		t.Skip(".sops.yaml does not name the TEST ONLY key")
	}
	r := renderCluster(t)
	decrypts := map[string]bool{}
	for _, ks := range r.Kustomizations {
		decrypts[ks.Name] = ks.Spec.Decryption != nil
	}
	secrets := 0
	for _, o := range r.Objects {
		if o.kind() != "Secret" || len(sopsRecipients(o.Encrypted)) == 0 {
			continue
		}
		secrets++
		if !decrypts[o.Kustomization] {
			t.Errorf("%s is SOPS-encrypted but Kustomization %s has no decryption", o, o.Kustomization)
		}
		if _, err := sopsDataKey(o.Encrypted, id); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	if secrets == 0 {
		t.Error("no SOPS-encrypted Secret in the rendered tree")
	}
}
