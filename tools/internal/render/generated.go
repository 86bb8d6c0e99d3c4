package render

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// generatedVarSource finds where the missing variable v of a ConfigMap
// made by a configMapGenerator is written: the file its data key comes
// from (files, envs) or, for a literal, the kustomization that declares
// it; and the first line there that references the variable (0 when none
// does). The reviewer gets the script or env file to fix rather than a
// kustomization.yaml without a line. ok is false for any other object, or
// when the key's source is not found (a generator merged from a base, a
// remote file).
func generatedVarSource(rs *resource.Resource, o *resource.Origin, dir string, src Source, v MissingVar) (file string, line int, ok bool) {
	if o == nil || o.Repo != "" || o.ConfiguredIn == "" {
		return "", 0, false
	}
	// A secretGenerator writes base64, where no variable is found.
	key, isData := strings.CutPrefix(v.Field, "data.")
	if o.ConfiguredBy.Kind != "ConfigMapGenerator" || !isData || key == "" {
		return "", 0, false
	}
	kfile := filepath.Join(dir, filepath.FromSlash(o.ConfiguredIn))
	data, err := os.ReadFile(kfile)
	if err != nil {
		return "", 0, false
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return "", 0, false
	}
	kdir := filepath.Dir(kfile)
	for _, g := range k.ConfigMapGenerator {
		// The name kustomize gave it: the generator's, with the hash
		// suffix unless disabled.
		if name := rs.OrgId().Name; name != g.Name && !strings.HasPrefix(name, g.Name+"-") {
			continue
		}
		if p := keySource(g.KvPairSources, kdir, key); p != "" {
			return src.repoPath(p), varLine(p, v.Name), true
		}
		for _, l := range g.LiteralSources {
			if strings.HasPrefix(l, key+"=") {
				return src.repoPath(kfile), varLine(kfile, v.Name), true
			}
		}
	}
	return "", 0, false
}

// keySource returns the file of a generator's files or envs that gives
// key its value, or "".
func keySource(s types.KvPairSources, kdir, key string) string {
	for _, f := range s.FileSources {
		k, p, named := strings.Cut(f, "=")
		if !named {
			p = f
			k = filepath.Base(p)
		}
		if strings.Contains(p, "://") {
			continue
		}
		if k == key {
			return filepath.Join(kdir, filepath.FromSlash(p))
		}
	}
	for _, e := range s.EnvSources {
		path := filepath.Join(kdir, filepath.FromSlash(e))
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			if strings.HasPrefix(strings.TrimSpace(sc.Text()), key+"=") {
				return path
			}
		}
	}
	return ""
}

// varLine returns the first line of the file at path that references the
// variable name as Flux does, ${name...}, and is not escaped ($${name}).
func varLine(path, name string) int {
	ref := regexp.MustCompile(`(^|[^$])\$\{` + regexp.QuoteMeta(name) + `([^_[:alnum:]]|$)`)
	return firstLine(path, ref.MatchString)
}
