package helmrender

import (
	"fmt"
	"slices"
	"strings"
)

// drift is an image version the HelmRelease's values pin that differs from
// what the chart ships at the same values path.
type drift struct {
	path    string // dotted values path of the tag
	pinned  string
	shipped string
	from    string // "default" or "appVersion"
}

func (d drift) String() string {
	if d.from == "appVersion" {
		return fmt.Sprintf("%s pins %s, the chart's appVersion is %s", d.path, d.pinned, d.shipped)
	}
	return fmt.Sprintf("%s pins %s, the chart's default there is %s", d.path, d.pinned, d.shipped)
}

// imageDrift compares every image tag the values set with the chart's
// default at the same path; where the chart leaves the tag empty its
// templates fall back to appVersion, so that is the version it ships.
// Digests are ignored (they cannot be compared offline), and so is a
// leading "v".
func imageDrift(defaults, vals map[string]any, appVersion string) []drift {
	var out []drift
	var walk func(prefix []string, v, def map[string]any)
	walk = func(prefix []string, v, def map[string]any) {
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := append(slices.Clone(prefix), k)
			d := def[k]
			switch val := v[k].(type) {
			case map[string]any:
				dm, _ := d.(map[string]any)
				walk(p, val, dm)
			case string:
				if k != "tag" || !imagePath(p) || val == "" {
					continue
				}
				shipped, _ := d.(string)
				from := "default"
				if shipped == "" {
					shipped, from = appVersion, "appVersion"
				}
				if shipped == "" || version(shipped) == version(val) {
					continue
				}
				out = append(out, drift{path: strings.Join(p, "."), pinned: val, shipped: shipped, from: from})
			}
		}
	}
	walk(nil, vals, defaults)
	return out
}

// imagePath reports whether a values path ending in "tag" is an image's:
// one of its keys names an image (image, rabbitmqImage, ...).
func imagePath(p []string) bool {
	for _, k := range p[:len(p)-1] {
		if strings.Contains(strings.ToLower(k), "image") {
			return true
		}
	}
	return false
}

// version is a tag without its digest and leading "v".
func version(tag string) string {
	tag, _, _ = strings.Cut(tag, "@")
	return strings.TrimPrefix(tag, "v")
}
