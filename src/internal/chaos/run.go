package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/loadgen"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

// Phases bound a fault's load.
type Phases struct {
	// Rate is POSTs per second (500 when 0).
	Rate int
	// Before is the load before the fault (the throughput baseline),
	// After the load once the fault is repaired.
	Before, After time.Duration
	// Drain bounds the wait for the store to hold every 202 and the
	// queue to empty once the load stopped (1 minute when 0).
	Drain time.Duration
}

func (p Phases) load(s *Stack) loadgen.Config {
	return loadgen.Config{URL: s.URL, Rate: p.Rate, UserHeader: UserHeader}
}

// Outcome is a run's figures and the invariant's verdict.
type Outcome struct {
	Rows  []loadgen.Summary
	Audit loadgen.Audit
	// Depth is the work queue's ready messages once drained.
	Depth int
	// Absorbed counts redeliveries the consumers found already stored.
	Absorbed int
}

// Err reports every broken invariant: a 202 lost or stored twice, an
// answer other than 202, 503 with Retry-After or 4xx, a queue not drained.
func (o Outcome) Err() error {
	errs := []error{o.Audit.Check()}
	for _, r := range o.Rows {
		if r.Violations > 0 {
			errs = append(errs, fmt.Errorf("%s: %d answers break the contract (first: %s)", r.Name, r.Violations, r.FirstViolation))
		}
	}
	if o.Depth > 0 {
		errs = append(errs, fmt.Errorf("%d messages still in the queue after the drain", o.Depth))
	}
	return errors.Join(errs...)
}

// RunFaults runs the load for p.Before, injects each fault in turn with
// gap between them, keeps the load for p.After once the last returned,
// then audits. Its rows are one per fault (the requests sent from the end
// of the previous fault to the start of the next) and the whole run.
func (s *Stack) RunFaults(ctx context.Context, faults []Fault, p Phases, gap time.Duration, seed uint64, log *slog.Logger) (Outcome, error) {
	if err := s.ResetStore(ctx); err != nil {
		return Outcome{}, err
	}
	if err := s.WaitReady(ctx, time.Minute); err != nil {
		return Outcome{}, err
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	absorbed := s.Absorbed()
	l := loadgen.Start(ctx, p.load(s))
	stopped := false
	defer func() {
		if !stopped {
			l.Stop()
		}
	}()
	if err := sleep(ctx, p.Before); err != nil {
		return Outcome{}, err
	}
	var injections []Injection
	for i, f := range faults {
		if i > 0 {
			if err := sleep(ctx, gap); err != nil {
				return Outcome{}, err
			}
		}
		in := Injection{Fault: f.Name, At: time.Now()}
		if err := f.Inject(ctx, s, rng, log); err != nil {
			return Outcome{}, fmt.Errorf("%s: %w", f.Name, err)
		}
		in.Done = time.Now()
		injections = append(injections, in)
	}
	if err := sleep(ctx, p.After); err != nil {
		return Outcome{}, err
	}
	res := l.Stop()
	stopped = true
	o, err := s.audit(ctx, res, p.Drain, absorbed)
	if err != nil {
		return Outcome{}, err
	}
	o.Rows = rows(res, injections, o.Audit, len(faults) > 1)
	return o, nil
}

// rows summarises each injection's stretch of the load and, when total is
// set, the whole run.
func rows(res loadgen.Result, injections []Injection, a loadgen.Audit, total bool) []loadgen.Summary {
	var out []loadgen.Summary
	from := res.Start
	for i, in := range injections {
		to := res.End
		if i+1 < len(injections) {
			to = injections[i+1].At
		}
		name := in.Fault
		if total {
			name = fmt.Sprintf("%d. %s", i+1, in.Fault)
		}
		if in.Err != nil {
			name += " (failed)"
		}
		out = append(out, res.Summarize(name, from, in.At, to, a))
		from = in.Done
	}
	if total {
		firstFault := res.End
		if len(injections) > 0 {
			firstFault = injections[0].At
		}
		whole := res.Summarize("whole run", res.Start, firstFault, res.End, a)
		whole.Whole = true
		out = append(out, whole)
	}
	return out
}

func (s *Stack) audit(ctx context.Context, res loadgen.Result, drain time.Duration, absorbedBefore int) (Outcome, error) {
	if drain <= 0 {
		drain = time.Minute
	}
	a, err := loadgen.AuditStore(ctx, s.DB.Collection(store.Collection), res, drain)
	if err != nil {
		return Outcome{}, err
	}
	o := Outcome{Audit: a, Absorbed: s.Absorbed() - absorbedBefore}
	// Whatever the consumers still hold drains within the rest of the
	// bound: a queue that stays non-empty is stuck.
	deadline := time.Now().Add(max(10*time.Second, drain-a.Settled))
	for {
		qctx, cancel := context.WithTimeout(ctx, ctlTimeout)
		o.Depth, err = s.QueueDepth(qctx)
		cancel()
		if err == nil && o.Depth == 0 || time.Now().After(deadline) {
			return o, err
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return o, err
		}
	}
}

// ChaosOptions shape a chaos run.
type ChaosOptions struct {
	Duration time.Duration
	Seed     uint64
	Rate     int
	Faults   []Fault
	// EachOnce injects every fault once, in an order drawn from the seed,
	// and keeps the load at least After beyond the last even when that
	// exceeds Duration; otherwise faults are drawn with replacement while
	// their Takes fits in the time left.
	EachOnce bool
	After    time.Duration
	// Gap is the longest quiet time between two faults (the gap is
	// random, at least a quarter of it).
	Gap   time.Duration
	Drain time.Duration
	Log   *slog.Logger
}

// Injection is one fault the scheduler injected.
type Injection struct {
	Fault    string
	At, Done time.Time
	Err      error
}

// Chaos runs the load for o.Duration while a scheduler seeded with o.Seed
// injects faults from o.Faults, one at a time, with random quiet gaps
// (see EachOnce). Then it audits the store against every 202 and returns
// one row per injection (the requests sent from its start to the next
// one's) and a total.
func (s *Stack) Chaos(ctx context.Context, o ChaosOptions) (Outcome, []Injection, error) {
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if err := s.ResetStore(ctx); err != nil {
		return Outcome{}, nil, err
	}
	if err := s.WaitReady(ctx, time.Minute); err != nil {
		return Outcome{}, nil, err
	}
	absorbed := s.Absorbed()
	l := loadgen.Start(ctx, loadgen.Config{URL: s.URL, Rate: o.Rate, UserHeader: UserHeader})
	end := l.StartedAt().Add(o.Duration)
	var injections []Injection
	remaining := slices.Clone(o.Faults)
	for ctx.Err() == nil {
		gap := o.Gap/4 + time.Duration(rng.Int64N(int64(o.Gap-o.Gap/4)+1))
		if len(injections) == 0 {
			// The first quiet time is the baseline the recovery is
			// measured against: a whole Gap.
			gap = o.Gap
		}
		var fits []Fault
		for _, f := range remaining {
			if o.EachOnce || time.Now().Add(gap+f.Takes).Before(end) {
				fits = append(fits, f)
			}
		}
		if len(fits) == 0 {
			break
		}
		f := fits[rng.IntN(len(fits))]
		if o.EachOnce {
			remaining = slices.DeleteFunc(remaining, func(r Fault) bool { return r.Name == f.Name })
		}
		if sleep(ctx, gap) != nil {
			break
		}
		in := Injection{Fault: f.Name, At: time.Now()}
		o.Log.Info("inject", "fault", f.Name)
		in.Err = f.Inject(ctx, s, rng, o.Log)
		in.Done = time.Now()
		injections = append(injections, in)
		if in.Err != nil && ctx.Err() == nil {
			o.Log.Error("fault could not be injected", "fault", f.Name, "error", in.Err)
		}
	}
	if len(injections) > 0 {
		end = later(end, injections[len(injections)-1].Done.Add(o.After))
	}
	_ = sleep(ctx, time.Until(end))
	res := l.Stop()
	if ctx.Err() != nil {
		return Outcome{}, injections, ctx.Err()
	}
	out, err := s.audit(ctx, res, o.Drain, absorbed)
	if err != nil {
		return Outcome{}, injections, err
	}
	out.Rows = rows(res, injections, out.Audit, true)
	var errs []error
	for _, in := range injections {
		if in.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", in.Fault, in.Err))
		}
	}
	return out, injections, errors.Join(errs...)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Report prints an outcome: the table, then the audit's totals.
func Report(w io.Writer, o Outcome) error {
	if err := loadgen.WriteTable(w, o.Rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "audit: %d accepted, %d stored, %d lost, %d duplicates; %d stored without a 202 (allowed); %d redeliveries found already stored by the consumers; store settled %.1f s after the load; %d messages left in the queue\n",
		o.Audit.Accepted, o.Audit.StoredAccepted, o.Audit.Lost, o.Audit.Duplicates, o.Audit.StoredUnconfirmed, o.Absorbed, o.Audit.Settled.Seconds(), o.Depth)
	return err
}
