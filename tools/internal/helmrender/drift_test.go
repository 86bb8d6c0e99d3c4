package helmrender

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/testfs"
)

func TestImageDrift(t *testing.T) {
	defaults := map[string]any{
		"image": map[string]any{"repository": "traefik", "tag": ""},
		"operator": map[string]any{
			"image": map[string]any{"tag": "2.22.4@sha256:aaa"},
		},
		"sidecar": map[string]any{"image": map[string]any{"tag": "1.0.0"}},
		"config":  map[string]any{"tag": "not an image"},
	}
	tests := []struct {
		name string
		vals map[string]any
		want []drift
	}{
		{"pins what the chart ships", map[string]any{
			"image":    map[string]any{"tag": "v3.7.11", "digest": "sha256:bbb"},
			"operator": map[string]any{"image": map[string]any{"tag": "2.22.4@sha256:ccc"}},
		}, nil},
		{"a chart bump left the pinned image behind", map[string]any{
			"image": map[string]any{"tag": "v3.7.10"},
		}, []drift{{path: "image.tag", pinned: "v3.7.10", shipped: "3.7.11", from: "appVersion"}}},
		{"an image bump without the chart", map[string]any{
			"operator": map[string]any{"image": map[string]any{"tag": "2.22.5@sha256:ddd"}},
			"sidecar":  map[string]any{"image": map[string]any{"tag": "1.0.0"}},
		}, []drift{{path: "operator.image.tag", pinned: "2.22.5@sha256:ddd", shipped: "2.22.4@sha256:aaa", from: "default"}}},
		{"tags that are not images are not compared", map[string]any{
			"config": map[string]any{"tag": "other"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := imageDrift(defaults, tt.vals, "3.7.11")
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("imageDrift = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The finding comes out of Render at the HelmRelease, naming the path.
func TestRenderReportsImageDrift(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "app")
	testfs.Write(t, chart, map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: app\nversion: 2.0.0\nappVersion: v2.0.0\n",
		"values.yaml":       "image:\n  repository: example/app\n  tag: \"\"\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  image: {{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\n",
	})
	r := New(nil, nil, nil, nil)
	for _, tt := range []struct{ tag, want string }{
		{"v2.0.0@sha256:abc", ""},
		{"v1.9.0@sha256:abc", "image.tag pins v1.9.0@sha256:abc, the chart's appVersion is v2.0.0"},
	} {
		hr := repoObject(t, `{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: app, namespace: apps}, spec: {values: {image: {tag: "`+tt.tag+`"}}}}`)
		res := r.Render(context.Background(), Release{HR: hr, Location: Location{Path: chart, Describe: "test"}, Sources: fakeSources{}})
		var got []string
		for _, f := range res.Findings {
			if f.Rule == finding.HelmImageDrift {
				got = append(got, f.Message)
			}
		}
		switch {
		case tt.want == "" && len(got) != 0:
			t.Errorf("tag %s: unexpected %v", tt.tag, got)
		case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
			t.Errorf("tag %s: findings %v, want one containing %q", tt.tag, got, tt.want)
		}
		if len(res.Objects) != 1 {
			t.Errorf("tag %s: drift must not stop the render: %d objects", tt.tag, len(res.Objects))
		}
	}
}
