// Copyright 2019 The Kubernetes Authors.
// SPDX-License-Identifier: Apache-2.0

package builtinconfig

import (
	"log"
	"slices"
	"sort"
	"sync"

	"sigs.k8s.io/kustomize/api/ifc"
	"sigs.k8s.io/kustomize/api/internal/konfig/builtinpluginconsts"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/errors"
)

// TransformerConfig holds the data needed to perform transformations.
//
//nolint:tagalign
type TransformerConfig struct {
	// if any fields are added, update the DeepCopy implementation
	NamePrefix                types.FsSlice `json:"namePrefix,omitempty" yaml:"namePrefix,omitempty"`
	NameSuffix                types.FsSlice `json:"nameSuffix,omitempty" yaml:"nameSuffix,omitempty"`
	NameSpace                 types.FsSlice `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	CommonLabels              types.FsSlice `json:"commonLabels,omitempty" yaml:"commonLabels,omitempty"`
	Labels                    types.FsSlice `json:"labels,omitempty" yaml:"labels,omitempty"`
	TemplateLabels            types.FsSlice `json:"templateLabels,omitempty" yaml:"templateLabels,omitempty"`
	VolumeClaimTemplateLabels types.FsSlice `json:"volumeClaimTemplateLabels,omitempty" yaml:"volumeClaimTemplateLabels,omitempty"`
	CommonAnnotations         types.FsSlice `json:"commonAnnotations,omitempty" yaml:"commonAnnotations,omitempty"`
	NameReference             nbrSlice      `json:"nameReference,omitempty" yaml:"nameReference,omitempty"`
	VarReference              types.FsSlice `json:"varReference,omitempty" yaml:"varReference,omitempty"`
	Images                    types.FsSlice `json:"images,omitempty" yaml:"images,omitempty"`
	Replicas                  types.FsSlice `json:"replicas,omitempty" yaml:"replicas,omitempty"`
}

// fieldSpecs are the field spec slices of t, in Merge's order.
func (t *TransformerConfig) fieldSpecs() []*types.FsSlice {
	return []*types.FsSlice{&t.NamePrefix, &t.NameSuffix, &t.NameSpace, &t.CommonAnnotations,
		&t.CommonLabels, &t.Labels, &t.TemplateLabels, &t.VolumeClaimTemplateLabels,
		&t.VarReference, &t.Images, &t.Replicas}
}

func (t *TransformerConfig) empty() bool {
	for _, s := range t.fieldSpecs() {
		if len(*s) > 0 {
			return false
		}
	}
	return len(t.NameReference) == 0
}

func (t *TransformerConfig) equal(o *TransformerConfig) bool {
	ts, os := t.fieldSpecs(), o.fieldSpecs()
	for i := range ts {
		if !slices.Equal(*ts[i], *os[i]) {
			return false
		}
	}
	return slices.EqualFunc(t.NameReference, o.NameReference, func(a, b NameBackReferences) bool {
		return a.Gvk == b.Gvk && slices.Equal(a.Referrers, b.Referrers)
	})
}

// clipped returns t with every slice's capacity cut to its length (nil
// stays nil), so that an append to it makes a new array.
func (t *TransformerConfig) clipped() *TransformerConfig {
	c := *t
	for _, s := range c.fieldSpecs() {
		*s = slices.Clip(*s)
	}
	if t.NameReference != nil {
		c.NameReference = make(nbrSlice, len(t.NameReference))
		for i, n := range t.NameReference {
			n.Referrers = slices.Clip(n.Referrers)
			c.NameReference[i] = n
		}
	}
	return &c
}

// isNormal reports whether merging leaves t as it is (see fromEmpty; it
// is quadratic in the length of the slices).
func (t *TransformerConfig) isNormal() bool {
	// MergeAll(s, s) returns s unless two of its field specs conflict.
	consistent := func(s types.FsSlice) bool {
		var r types.FsSlice
		for _, x := range s {
			var err error
			if r, err = r.MergeOne(x); err != nil {
				return false
			}
		}
		return cap(s) == len(s)
	}
	for _, s := range t.fieldSpecs() {
		if !sort.IsSorted(*s) || !consistent(*s) {
			return false
		}
	}
	if !sort.IsSorted(t.NameReference) || cap(t.NameReference) != len(t.NameReference) {
		return false
	}
	for i, n := range t.NameReference {
		if !consistent(n.Referrers) {
			return false
		}
		for _, m := range t.NameReference[:i] {
			if m.Gvk.Equals(n.Gvk) {
				return false
			}
		}
	}
	return true
}

// fromEmpty holds the last merges of an empty config with a non-empty one
// (each kustomization merges the default config into an empty accumulator;
// kustomize spent 4 % of a build doing that again), newest last, those
// whose result merging leaves as it is: every slice sorted as Merge sorts
// it, none holding two field specs that MergeOne takes for the same but
// that conflict, NameReference holding each Gvk once, and every slice at
// its full capacity so that an append never writes into memory that the
// configs sharing the result see. Merging such a result with an empty or
// an equal config returns it.
var fromEmpty struct { //nolint:gochecknoglobals
	sync.Mutex
	merges []struct{ input, merged *TransformerConfig }
}

// maxFromEmpty bounds fromEmpty: a repository has few distinct
// configurations, and a result dropped is only merged the slow way.
const maxFromEmpty = 8

// stable reports whether t is one of fromEmpty's results.
func (t *TransformerConfig) stable() bool {
	fromEmpty.Lock()
	defer fromEmpty.Unlock()
	for _, m := range fromEmpty.merges {
		if m.merged == t {
			return true
		}
	}
	return false
}

// MakeEmptyConfig returns an empty TransformerConfig object
func MakeEmptyConfig() *TransformerConfig {
	return &TransformerConfig{}
}

// DeepCopy returns a new copy of TransformerConfig
func (t *TransformerConfig) DeepCopy() *TransformerConfig {
	return &TransformerConfig{
		NamePrefix:                t.NamePrefix.DeepCopy(),
		NameSuffix:                t.NameSuffix.DeepCopy(),
		NameSpace:                 t.NameSpace.DeepCopy(),
		CommonLabels:              t.CommonLabels.DeepCopy(),
		Labels:                    t.Labels.DeepCopy(),
		TemplateLabels:            t.TemplateLabels.DeepCopy(),
		VolumeClaimTemplateLabels: t.VolumeClaimTemplateLabels.DeepCopy(),
		CommonAnnotations:         t.CommonAnnotations.DeepCopy(),
		NameReference:             t.NameReference.DeepCopy(),
		VarReference:              t.VarReference.DeepCopy(),
		Images:                    t.Images.DeepCopy(),
		Replicas:                  t.Replicas.DeepCopy(),
	}
}

// the default transformer config is initialized by MakeDefaultConfig,
// and must only be accessed via that function.
var (
	initDefaultConfig sync.Once          //nolint:gochecknoglobals
	defaultConfig     *TransformerConfig //nolint:gochecknoglobals
)

// MakeDefaultConfig returns a default TransformerConfig.
func MakeDefaultConfig() *TransformerConfig {
	// parsing is expensive when having a large tree with many kustomization modules, so only do it once
	initDefaultConfig.Do(func() {
		var err error
		defaultConfig, err = makeTransformerConfigFromBytes(
			builtinpluginconsts.GetDefaultFieldSpecs())
		if err != nil {
			log.Fatalf("Unable to make default transformconfig: %v", err)
		}
	})

	// return a copy to avoid any mutations to protect the reference copy
	return defaultConfig.DeepCopy()
}

// MakeTransformerConfig returns a merger of custom config,
// if any, with default config.
func MakeTransformerConfig(
	ldr ifc.Loader, paths []string) (*TransformerConfig, error) {
	t1 := MakeDefaultConfig()
	if len(paths) == 0 {
		return t1, nil
	}
	t2, err := loadDefaultConfig(ldr, paths)
	if err != nil {
		return nil, err
	}
	return t1.Merge(t2)
}

// sortFields provides determinism in logging, tests, etc.
func (t *TransformerConfig) sortFields() {
	sort.Sort(t.NamePrefix)
	sort.Sort(t.NameSuffix)
	sort.Sort(t.NameSpace)
	sort.Sort(t.CommonLabels)
	sort.Sort(t.Labels)
	sort.Sort(t.TemplateLabels)
	sort.Sort(t.VolumeClaimTemplateLabels)
	sort.Sort(t.CommonAnnotations)
	sort.Sort(t.NameReference)
	sort.Sort(t.VarReference)
	sort.Sort(t.Images)
	sort.Sort(t.Replicas)
}

// AddPrefixFieldSpec adds a FieldSpec to NamePrefix
func (t *TransformerConfig) AddPrefixFieldSpec(fs types.FieldSpec) (err error) {
	t.NamePrefix, err = t.NamePrefix.MergeOne(fs)
	return err
}

// AddSuffixFieldSpec adds a FieldSpec to NameSuffix
func (t *TransformerConfig) AddSuffixFieldSpec(fs types.FieldSpec) (err error) {
	t.NameSuffix, err = t.NameSuffix.MergeOne(fs)
	return err
}

// AddCommonLabelsFieldSpec adds a FieldSpec to CommonLabels
func (t *TransformerConfig) AddCommonLabelsFieldSpec(fs types.FieldSpec) (err error) {
	t.CommonLabels, err = t.CommonLabels.MergeOne(fs)
	return err
}

// AddLabelsFieldSpec adds a FieldSpec to Labels
func (t *TransformerConfig) AddLabelsFieldSpec(fs types.FieldSpec) (err error) {
	t.Labels, err = t.Labels.MergeOne(fs)
	return err //nolint:wrapcheck
}

// AddAnnotationFieldSpec adds a FieldSpec to CommonAnnotations
func (t *TransformerConfig) AddAnnotationFieldSpec(fs types.FieldSpec) (err error) {
	t.CommonAnnotations, err = t.CommonAnnotations.MergeOne(fs)
	return err
}

// AddNamereferenceFieldSpec adds a NameBackReferences to NameReference
func (t *TransformerConfig) AddNamereferenceFieldSpec(
	nbrs NameBackReferences) (err error) {
	t.NameReference, err = t.NameReference.mergeOne(nbrs)
	return err
}

// Merge merges two TransformerConfigs objects into
// a new TransformerConfig object
func (t *TransformerConfig) Merge(input *TransformerConfig) (
	merged *TransformerConfig, err error) {
	if input == nil {
		return t, nil
	}
	if (input.empty() || t.equal(input)) && t.stable() {
		return t, nil
	}
	if t.empty() && !input.empty() {
		fromEmpty.Lock()
		defer fromEmpty.Unlock()
		for _, m := range fromEmpty.merges {
			if m.input.equal(input) {
				return m.merged, nil
			}
		}
		if merged, err = t.merge(input); err != nil {
			return nil, err
		}
		// Shared only when merging leaves it as it is.
		merged = merged.clipped()
		if merged.isNormal() {
			if len(fromEmpty.merges) == maxFromEmpty {
				fromEmpty.merges = fromEmpty.merges[1:]
			}
			fromEmpty.merges = append(fromEmpty.merges, struct{ input, merged *TransformerConfig }{input.DeepCopy(), merged})
		}
		return merged, nil
	}
	return t.merge(input)
}

func (t *TransformerConfig) merge(input *TransformerConfig) (
	merged *TransformerConfig, err error) {
	merged = &TransformerConfig{}
	merged.NamePrefix, err = t.NamePrefix.MergeAll(input.NamePrefix)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge NamePrefix fieldSpec")
	}
	merged.NameSuffix, err = t.NameSuffix.MergeAll(input.NameSuffix)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge NameSuffix fieldSpec")
	}
	merged.NameSpace, err = t.NameSpace.MergeAll(input.NameSpace)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge NameSpace fieldSpec")
	}
	merged.CommonAnnotations, err = t.CommonAnnotations.MergeAll(
		input.CommonAnnotations)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge CommonAnnotations fieldSpec")
	}
	merged.CommonLabels, err = t.CommonLabels.MergeAll(input.CommonLabels)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge CommonLabels fieldSpec")
	}
	merged.Labels, err = t.Labels.MergeAll(input.Labels)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge Labels fieldSpec")
	}
	merged.TemplateLabels, err = t.TemplateLabels.MergeAll(input.TemplateLabels)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge TemplateLabels fieldSpec")
	}
	merged.VolumeClaimTemplateLabels, err = t.VolumeClaimTemplateLabels.MergeAll(input.VolumeClaimTemplateLabels)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge VolumeClaimTemplateLabels fieldSpec")
	}
	merged.VarReference, err = t.VarReference.MergeAll(input.VarReference)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge VarReference fieldSpec")
	}
	merged.NameReference, err = t.NameReference.mergeAll(input.NameReference)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge NameReference fieldSpec")
	}
	merged.Images, err = t.Images.MergeAll(input.Images)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge Images fieldSpec")
	}
	merged.Replicas, err = t.Replicas.MergeAll(input.Replicas)
	if err != nil {
		return nil, errors.WrapPrefixf(err, "failed to merge Replicas fieldSpec")
	}
	merged.sortFields()
	return merged, nil
}
