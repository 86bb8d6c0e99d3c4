package treetest

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
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

// secretOpener returns how rendering turns an encrypted Secret into what
// kustomize-controller applies. While .sops.yaml names the TEST ONLY key (the
// repository's example secrets), every Secret must decrypt with it. A
// repository that moved to its own key cannot be decrypted here: values
// become placeholders, as in the validator, and only the encryption itself is
// checked (checkEncrypted).
func secretOpener(t *testing.T) func(map[string]any) (map[string]any, error) {
	t.Helper()
	id := loadTestIdentity(t)
	cfg, err := os.ReadFile(filepath.Join(repoRoot(t), ".sops.yaml"))
	if err != nil {
		t.Fatalf("read .sops.yaml: %v", err)
	}
	if x, ok := id.(*age.X25519Identity); ok && strings.Contains(string(cfg), x.Recipient().String()) {
		return func(obj map[string]any) (map[string]any, error) { return decryptSOPS(obj, id) }
	}
	return placeholders
}

// placeholders replaces every encrypted value with a fixed placeholder and
// drops the sops metadata.
func placeholders(obj map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "sops" {
			out[k] = v
		}
	}
	for _, field := range secretFields {
		values, _ := obj[field].(map[string]any)
		if values == nil {
			continue
		}
		plain := make(map[string]any, len(values))
		for k := range values {
			plain[k] = "sops-encrypted-" + k
		}
		out[field] = plain
	}
	return out, nil
}

// sopsDataKey decrypts the SOPS data key of obj with id.
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

// decryptSOPS returns a copy of the SOPS-encrypted Secret obj with its data
// and stringData values decrypted and the sops metadata removed, as
// kustomize-controller does before applying it.
func decryptSOPS(obj map[string]any, id age.Identity) (map[string]any, error) {
	key, err := sopsDataKey(obj, id)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "sops" {
			out[k] = v
		}
	}
	for _, field := range secretFields {
		values, _ := obj[field].(map[string]any)
		if values == nil {
			continue
		}
		plain := make(map[string]any, len(values))
		for k, v := range values {
			s, _ := v.(string)
			p, err := decryptValue(block, s, field+":"+k+":")
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", field, k, err)
			}
			plain[k] = p
		}
		out[field] = plain
	}
	return out, nil
}

// decryptValue opens one ENC[AES256_GCM,...] value; aad is the value's path
// in the document joined with ":" plus a trailing ":", as SOPS writes it.
func decryptValue(block cipher.Block, s, aad string) (string, error) {
	m := encValue.FindStringSubmatch(s)
	if m == nil {
		return "", errors.New("not an ENC[AES256_GCM,...] value")
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return "", fmt.Errorf("decode base64: %w", err)
		}
		parts[i] = b
	}
	data, iv, tag := parts[0], parts[1], parts[2]
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return "", fmt.Errorf("gcm: %w", err)
	}
	plain, err := gcm.Open(nil, iv, append(data, tag...), []byte(aad))
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	if m[4] != "str" {
		return "", fmt.Errorf("value type %q, want str", m[4])
	}
	return string(plain), nil
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

func TestPlaceholders(t *testing.T) {
	in := map[string]any{
		"kind":       "Secret",
		"stringData": map[string]any{"password": "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]"},
		"sops":       map[string]any{"age": []any{}},
	}
	out, err := placeholders(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out["sops"]; ok {
		t.Error("sops metadata kept")
	}
	if got := out["stringData"].(map[string]any)["password"]; got != "sops-encrypted-password" {
		t.Errorf("password = %v, want the placeholder", got)
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
