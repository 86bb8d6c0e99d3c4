package helmrender

import (
	"encoding/base64"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"helm.sh/helm/v3/pkg/chart"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/homelab-gitops/homelab/tools/internal/finding"
	"github.com/homelab-gitops/homelab/tools/internal/render"
)

// valuesFrom composes the release values as helm-controller does
// (fluxcd/pkg/chartutil.ChartValuesFromReferences): each spec.valuesFrom
// reference in order, merged or set at targetPath, then spec.values on
// top. ConfigMaps and Secrets come from the repository's rendered objects;
// SOPS-encrypted values become placeholders, nothing is decrypted.
func valuesFrom(hr *render.Object, obj *helmv2.HelmRelease, srcs Sources) (map[string]any, []finding.Finding) {
	specValues := obj.GetValues()
	result := map[string]any{}
	var out []finding.Finding
	report := func(rule string, severity finding.Severity, i int, msg string) {
		f := finding.New(rule, hr.File, 0, 0, hr.FindingObject(), msg)
		f.Severity = severity
		f.Field = fmt.Sprintf("spec.valuesFrom.%d", i)
		f.Kustomization = hr.Owner.Ref.String()
		out = append(out, f)
	}
	ns := hr.U.GetNamespace()
	for i, ref := range obj.Spec.ValuesFrom {
		key := ref.GetValuesKey()
		what := fmt.Sprintf("HelmRelease %s/%s: valuesFrom %s %s/%s key %q", ns, hr.U.GetName(), ref.Kind, ns, ref.Name, key)
		if ref.Kind != "ConfigMap" && ref.Kind != "Secret" {
			report(finding.HelmRenderFailed, finding.Error, i, what+": kind must be ConfigMap or Secret")
			continue
		}
		src := srcs.Object(ref.Kind, ns, ref.Name)
		if src == nil {
			switch {
			case ref.Optional:
			case srcs.Made(ref.Kind, ns, ref.Name):
				report(finding.RefUnknown, finding.Info, i, what+": the object is made in the cluster, its values are unknown offline; the chart is rendered without them")
			default:
				report(finding.RefMissing, finding.Warning, i, what+": the object is not in the repository, so helm-controller fails unless it exists in the cluster; the chart is rendered without it")
			}
			continue
		}
		value, encrypted, ok := dataValue(src, key)
		if !ok {
			if !ref.Optional {
				report(finding.RefMissing, finding.Error, i, what+": the key does not exist; helm-controller fails the release")
			}
			continue
		}
		if ref.TargetPath != "" {
			result = chartutil.MergeTables(deepCopy(specValues), result)
			set := strvals.ParseInto
			if ref.Literal {
				set = strvals.ParseIntoString
				value = literalEscaper.Replace(value)
			} else if quoted(value) {
				set = strvals.ParseIntoString
				value = strings.Trim(value, `'"`)
			}
			if err := set(ref.TargetPath+"="+value, result); err != nil {
				report(finding.HelmRenderFailed, finding.Error, i, fmt.Sprintf("%s: targetPath %s: %v", what, ref.TargetPath, err))
			}
			continue
		}
		if encrypted {
			report(finding.RefUnknown, finding.Info, i, what+": the values are SOPS-encrypted and not decrypted offline; the chart is rendered without them")
			continue
		}
		vals, err := chartutil.ReadValues([]byte(value))
		if err != nil {
			report(finding.HelmRenderFailed, finding.Error, i, fmt.Sprintf("%s: not a YAML map of values: %v", what, err))
			continue
		}
		result = chartutil.MergeTables(vals, result)
	}
	return chartutil.MergeTables(deepCopy(specValues), result), out
}

var literalEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`)

func quoted(v string) bool {
	return len(v) >= 2 && (v[0] == '\'' && v[len(v)-1] == '\'' || v[0] == '"' && v[len(v)-1] == '"')
}

// dataValue returns key of a ConfigMap's data or a Secret's data (decoded)
// or stringData; an encrypted value becomes a placeholder.
func dataValue(o *render.Object, key string) (value string, encrypted, ok bool) {
	if o.U.GetKind() == "Secret" {
		if s, found, _ := unstructured.NestedString(o.U.Object, "stringData", key); found {
			if strings.HasPrefix(s, "ENC[") {
				return placeholder(key), true, true
			}
			return s, false, true
		}
		s, found, _ := unstructured.NestedString(o.U.Object, "data", key)
		if !found {
			return "", false, false
		}
		if strings.HasPrefix(s, "ENC[") {
			return placeholder(key), true, true
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return s, false, true
		}
		return string(b), false, true
	}
	s, found, _ := unstructured.NestedString(o.U.Object, "data", key)
	return s, false, found
}

// placeholder is the value of an encrypted key, as for postBuild
// substitution: DNS-label safe.
func placeholder(key string) string {
	k := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(key))
	return "sops-" + strings.Trim(k, "-")
}

// valuesFiles merges the chart's valuesFiles in order, as source-controller
// does when it builds the chart: the result replaces values.yaml. For a
// chart of this repository the paths are relative to the source root; for
// a cached chart they name files in the chart ("values.yaml" is its
// default values).
func valuesFiles(c *chart.Chart, loc Location) (map[string]any, error) {
	merged := map[string]any{}
	for _, p := range loc.ValuesFiles {
		var data []byte
		switch clean := path.Clean(filepath.ToSlash(p)); {
		case loc.ValuesRoot != "":
			abs, err := securejoin.SecureJoin(loc.ValuesRoot, p)
			if err != nil {
				return nil, err
			}
			if data, err = os.ReadFile(abs); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
		case clean == chartutil.ValuesfileName:
			merged = chartutil.MergeTables(deepCopy(c.Values), merged)
			continue
		default:
			for _, f := range c.Files {
				if f.Name == clean {
					data = f.Data
				}
			}
		}
		if data == nil {
			if loc.IgnoreMissing {
				continue
			}
			return nil, fmt.Errorf("no values file found at path %q", p)
		}
		vals, err := chartutil.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("values from %q: %w", p, err)
		}
		merged = chartutil.MergeTables(vals, merged)
	}
	return merged, nil
}
