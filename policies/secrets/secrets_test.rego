package homelab.secrets_test

import data.homelab.fixtures as fx
import data.homelab.secrets

fires(id, obj) if id in fx.rules(secrets.deny) with input as obj

secret := {
	"apiVersion": "v1",
	"kind": "Secret",
	"metadata": {"name": "cluster-secrets", "namespace": "flux-system"},
	"type": "Opaque",
	"stringData": {"CLOUDFLARE_API_TOKEN": "ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]"},
	"sops": {"age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----"}], "encrypted_regex": "^(data|stringData)$", "version": "3.10.2"},
}

test_secrets_sops_encrypted_fail_plain if {
	fires("secrets-sops-encrypted", json.remove(secret, ["sops"]))
	fires("secrets-sops-encrypted", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}, "data": {"password": "aHVudGVyMg=="}})
}

test_secrets_sops_encrypted_fail_partly_plain if {
	fires("secrets-sops-encrypted", json.patch(secret, [{"op": "add", "path": "/stringData/EXTRA", "value": "hunter2"}]))
}

test_secrets_sops_encrypted_pass if {
	not fires("secrets-sops-encrypted", secret)
	not fires("secrets-sops-encrypted", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty"}, "type": "Opaque"})
	not fires("secrets-sops-encrypted", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}})
}
