package flux

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// reconcileDuration is the histogram every Flux controller records once
// per reconciliation of an object (fluxcd/pkg/runtime/metrics).
const reconcileDuration = "gotk_reconcile_duration_seconds"

// ReconcileCount reads from a controller's metrics endpoint how many
// reconciliations of the object kind namespace/name it has finished: the
// sample count of gotk_reconcile_duration_seconds. It is 0 before the
// first one.
func ReconcileCount(ctx context.Context, metricsURL, kind, namespace, name string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("read metrics: %s: %s", metricsURL, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("parse metrics of %s: %w", metricsURL, err)
	}
	fam := families[reconcileDuration]
	if fam == nil {
		return 0, nil
	}
	want := map[string]string{"kind": kind, "namespace": namespace, "name": name}
	for _, m := range fam.GetMetric() {
		matched := 0
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				matched++
			}
		}
		if matched == len(want) && m.GetHistogram() != nil {
			return m.GetHistogram().GetSampleCount(), nil
		}
	}
	return 0, nil
}
