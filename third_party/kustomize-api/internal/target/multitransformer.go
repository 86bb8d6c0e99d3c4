// Copyright 2019 The Kubernetes Authors.
// SPDX-License-Identifier: Apache-2.0

package target

import (
	"sigs.k8s.io/kustomize/api/internal/utils"
	"sigs.k8s.io/kustomize/api/resmap"
)

// multiTransformer contains a list of transformers.
type multiTransformer struct {
	transformers []*resmap.TransformerWithProperties
	// annotate records each transformer in the resources' transformations
	// annotation (buildMetadata transformerAnnotations). Without it, only
	// the resources a transformer generates get their origin: recording
	// every transformation to remove them all at the end of the build
	// cost a YAML decode and encode per resource and transformer.
	annotate bool
}

var _ resmap.Transformer = &multiTransformer{}

// newMultiTransformer constructs a multiTransformer.
func newMultiTransformer(t []*resmap.TransformerWithProperties, annotate bool) resmap.Transformer {
	r := &multiTransformer{
		transformers: make([]*resmap.TransformerWithProperties, len(t)),
		annotate:     annotate,
	}
	copy(r.transformers, t)
	return r
}

// Transform applies the member transformers in order to the resources,
// optionally detecting and erroring on commutation conflict.
func (o *multiTransformer) Transform(m resmap.ResMap) error {
	for _, t := range o.transformers {
		if err := t.Transform(m); err != nil {
			return err
		}
		if t.Origin != nil && o.annotate {
			if err := m.AddTransformerAnnotation(t.Origin); err != nil {
				return err
			}
		} else if t.Origin != nil {
			for _, res := range m.Resources() {
				if _, ok := res.GetAnnotations()[utils.OriginAnnotationKey]; ok {
					continue
				}
				if err := res.SetOrigin(t.Origin); err != nil {
					return err
				}
			}
		}
		m.DropEmpties()
	}
	return nil
}
