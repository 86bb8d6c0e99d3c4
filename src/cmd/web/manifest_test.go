package main

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

// The cluster's web Deployment configures the app as loadConfig reads it:
// every ${VAR} is a cluster value, every *_FILE names a key of a mounted
// Secret, and the OpenID Connect sign-in is on (all five settings), so a
// renamed variable, a missing mount or a Secret without the key fails here
// rather than as a crash-looping pod.
func TestClusterManifestConfigures(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	var dep appsv1.Deployment
	readYAML(t, filepath.Join(root, "apps/base/fitness/deployment-web.yaml"), &dep)

	vars := map[string]string{}
	var cm corev1.ConfigMap
	readYAML(t, filepath.Join(root, "clusters/homelab/cluster-vars.yaml"), &cm)
	for k, v := range cm.Data {
		vars[k] = v
	}
	// cluster-secrets is encrypted; its names are plain and stand-ins do
	// for the values.
	var cs corev1.Secret
	readYAML(t, filepath.Join(root, "clusters/homelab/cluster-secrets.yaml"), &cs)
	for k := range cs.StringData {
		vars[k] = "secret-" + strings.ToLower(k)
	}
	vars["ACCESS_TEAM_DOMAIN"] = "homelab.cloudflareaccess.com"

	// Secret name → keys, for the Secrets of the app.
	secretKeys := map[string]map[string]bool{}
	files, err := filepath.Glob(filepath.Join(root, "apps/base/fitness/secret-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var s corev1.Secret
		readYAML(t, f, &s)
		secretKeys[s.Name] = map[string]bool{}
		for k := range s.StringData {
			secretKeys[s.Name][k] = true
		}
	}

	spec := dep.Spec.Template.Spec
	var web *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == "web" {
			web = &spec.Containers[i]
		}
	}
	if web == nil {
		t.Fatal("deployment-web.yaml has no container named web")
	}
	mounts := map[string]string{} // mount path → Secret name
	for _, m := range web.VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				mounts[m.MountPath] = v.Secret.SecretName
			}
		}
	}

	dir := t.TempDir()
	ref := regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)
	env := map[string]string{}
	for _, e := range web.Env {
		if e.ValueFrom != nil {
			continue
		}
		v := ref.ReplaceAllStringFunc(e.Value, func(m string) string {
			name := ref.FindStringSubmatch(m)[1]
			val, ok := vars[name]
			if !ok {
				t.Errorf("env %s: ${%s} is in neither cluster-vars nor cluster-secrets", e.Name, name)
			}
			return val
		})
		if strings.HasSuffix(e.Name, "_FILE") && strings.HasPrefix(v, "/var/run/secrets/fitness/") {
			secret, ok := mounts[path.Dir(v)]
			if !ok {
				t.Errorf("env %s: %s is on no mounted Secret", e.Name, path.Dir(v))
				continue
			}
			if !secretKeys[secret][path.Base(v)] {
				t.Errorf("env %s: Secret %s has no key %s", e.Name, secret, path.Base(v))
				continue
			}
			// Stand-in content, long enough for any key.
			f := filepath.Join(dir, strings.ToLower(e.Name))
			if err := os.WriteFile(f, bytes.Repeat([]byte("k"), 64), 0o600); err != nil {
				t.Fatal(err)
			}
			v = f
		}
		env[e.Name] = v
	}
	c, err := loadConfig(envconf.Map(env), false)
	if err != nil {
		t.Fatalf("the cluster's web configuration does not load: %v", err)
	}
	if !c.OIDC() {
		t.Fatal("OpenID Connect sign-in is off in the cluster")
	}
	wantIssuer := "https://homelab.cloudflareaccess.com/cdn-cgi/access/sso/oidc/" + vars["ACCESS_OIDC_CLIENT_ID"]
	if c.OIDCIssuer != wantIssuer || c.OIDCClientID != vars["ACCESS_OIDC_CLIENT_ID"] {
		t.Errorf("issuer %q, client id %q; want %q and the client id of cluster-vars", c.OIDCIssuer, c.OIDCClientID, wantIssuer)
	}
	if want := "https://fitness." + vars["DOMAIN"] + "/auth/callback"; c.OIDCRedirectURL != want {
		t.Errorf("redirect URL %q, want %q (the HTTPRoute's host)", c.OIDCRedirectURL, want)
	}
}

func readYAML(t *testing.T, file string, into any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
