package chartfetch

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/repo"
)

// parseVersion parses an exact version as Flux does: strict semver with an
// optional leading "v".
func parseVersion(s string) (*semver.Version, error) {
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v")); err != nil {
		return nil, err
	}
	return semver.NewVersion(s)
}

// exactVersion reports whether v names one version rather than a range.
func exactVersion(v string) bool {
	_, err := parseVersion(v)
	return err == nil
}

// constraint parses a version range; "" and "*" are the latest stable
// version.
func constraint(v string) (*semver.Constraints, error) {
	if v == "" {
		v = "*"
	}
	c, err := semver.NewConstraint(v)
	if err != nil {
		return nil, fmt.Errorf("version %q is neither a version nor a semver range: %w", v, err)
	}
	return c, nil
}

// indexVersion picks the chart version of an index as source-controller
// does: an exact match of the string first, else the highest version the
// range matches, the newest entry among equal versions.
func indexVersion(idx *repo.IndexFile, name, v string) (*repo.ChartVersion, error) {
	cvs := idx.Entries[name]
	if len(cvs) == 0 {
		return nil, fmt.Errorf("no chart %q", name)
	}
	for _, cv := range cvs {
		if v != "" && cv.Version == v {
			return cv, nil
		}
	}
	c, err := constraint(v)
	if err != nil {
		return nil, err
	}
	type match struct {
		v  *semver.Version
		cv *repo.ChartVersion
	}
	var matches []match
	for _, cv := range cvs {
		if sv, err := parseVersion(cv.Version); err == nil && c.Check(sv) {
			matches = append(matches, match{sv, cv})
		}
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("no version of chart %q matches %q", name, v)
	}
	sort.SliceStable(matches, func(i, j int) bool {
		if !matches[i].v.Equal(matches[j].v) {
			return matches[i].v.GreaterThan(matches[j].v)
		}
		return matches[i].cv.Created.After(matches[j].cv.Created)
	})
	return matches[0].cv, nil
}

// tagVersion picks the OCI tag for v as source-controller does: an exact
// match first, else the highest version the range matches among the tags
// filter keeps.
func tagVersion(tags []string, v string, filter *regexp.Regexp) (string, error) {
	for _, t := range tags {
		if v != "" && t == v {
			return t, nil
		}
	}
	c, err := constraint(v)
	if err != nil {
		return "", err
	}
	var matches []*semver.Version
	for _, t := range tags {
		if filter != nil && !filter.MatchString(t) {
			continue
		}
		if sv, err := parseVersion(t); err == nil && c.Check(sv) {
			matches = append(matches, sv)
		}
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no tag matches version %q (%d semver tags)", v, len(tags))
	}
	sort.Sort(sort.Reverse(semver.Collection(matches)))
	return matches[0].Original(), nil
}
