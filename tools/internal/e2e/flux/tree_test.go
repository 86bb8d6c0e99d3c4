package flux

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadInstallOfTheRepository(t *testing.T) {
	in, err := ReadInstall("../../../../clusters/homelab/flux-system")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range in.CRDs {
		names = append(names, c.GetName())
	}
	for _, want := range []string{"kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io", "gitrepositories.source.toolkit.fluxcd.io", "receivers.notification.toolkit.fluxcd.io", "imagepolicies.image.toolkit.fluxcd.io"} {
		if !slices.Contains(names, want) {
			t.Errorf("CRDs %v lack %s", names, want)
		}
	}
	if got := in.Args["kustomize-controller"]; !slices.Contains(got, "--feature-gates=CancelHealthCheckOnNewRevision=true") {
		t.Errorf("kustomize-controller args from the tree = %v", got)
	}
	for name, args := range in.Args {
		for _, a := range args {
			if !strings.HasPrefix(a, "--feature-gates=") {
				t.Errorf("%s: arg %q taken from the tree", name, a)
			}
		}
	}
}

func TestReadInstallWithoutCRDs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources: [gotk-components.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gotk-components.yaml"), []byte("# placeholder\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInstall(dir); err == nil || !strings.Contains(err.Error(), "installs no CRDs") {
		t.Errorf("err = %v", err)
	}
}

// The CRDs are applied with the API machinery, which deep-copies them.
func TestReadInstallCRDsCopy(t *testing.T) {
	in, err := ReadInstall("../../../../clusters/homelab/flux-system")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range in.CRDs {
		_ = c.DeepCopy()
	}
}
