package loadgen

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"
)

// Result is a finished load: every request sent, in sending order.
type Result struct {
	Start, End time.Time
	Rate       int
	Answers    []Answer
	// SkippedAt has the time of each request not sent because
	// MaxInFlight were waiting for their answers.
	SkippedAt []time.Time
}

func sortBySent(a []Answer) {
	slices.SortFunc(a, func(x, y Answer) int { return x.Sent.Compare(y.Sent) })
}

// AcceptedIDs are the ids of the workouts answered 202.
func (r Result) AcceptedIDs() []string {
	var ids []string
	for _, a := range r.Answers {
		if a.Status == http.StatusAccepted {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// Violation says why an answer breaks the contract: anything but a 202, a
// 503 with Retry-After, or a 4xx. "" when it keeps it.
func (a Answer) Violation() string {
	switch {
	case a.Err != nil:
		return fmt.Sprintf("no answer: %v", a.Err)
	case a.Status == http.StatusAccepted:
		return ""
	case a.Status == http.StatusServiceUnavailable && !a.RetryAfter:
		return "503 without Retry-After"
	case a.Status == http.StatusServiceUnavailable, a.Status >= 400 && a.Status < 500:
		return ""
	}
	return fmt.Sprintf("status %d", a.Status)
}

// Summary is one fault's line of the table.
type Summary struct {
	Name        string
	Sent        int
	Accepted    int // 202
	Unavailable int // 503 with Retry-After
	BadInput    int // 4xx
	Violations  int // anything else, or no answer
	Skipped     int // due but not sent: MaxInFlight requests were waiting
	Stored      int // of the 202s
	Duplicates  int
	Lost        int // 202s not stored
	// Longest503 is the longest run of consecutive 503s (by sending
	// order), from the first one sent to the last one answered.
	Longest503 time.Duration
	// Recovery is the time from the fault until the rate of 202s was back
	// to 90% of its rate before the fault, for good (1 s buckets); -1 when
	// it never was before the load ended.
	Recovery time.Duration
	// Baseline is the 202s per second before the fault.
	Baseline float64
	// Whole marks a summary of a whole run of several faults, which has
	// no single recovery.
	Whole bool
	// FirstViolation describes one violation, for the report.
	FirstViolation string
}

// Summarize describes the requests sent in [from, to) with a fault
// injected at faultAt, and the audit's figures for their 202s.
func (r Result) Summarize(name string, from, faultAt, to time.Time, audit Audit) Summary {
	s := Summary{Name: name}
	var run []Answer
	endRun := func() {
		if len(run) > 0 {
			s.Longest503 = max(s.Longest503, run[len(run)-1].Answered.Sub(run[0].Sent))
			run = run[:0]
		}
	}
	for _, a := range r.Answers {
		if a.Sent.Before(from) || !a.Sent.Before(to) {
			continue
		}
		s.Sent++
		switch {
		case a.Violation() != "":
			s.Violations++
			if s.FirstViolation == "" {
				s.FirstViolation = a.Violation()
			}
		case a.Status == http.StatusAccepted:
			s.Accepted++
			if audit.Stored[a.ID] {
				s.Stored++
			} else {
				s.Lost++
			}
			s.Duplicates += audit.Extra[a.ID]
		case a.Status == http.StatusServiceUnavailable:
			s.Unavailable++
		default:
			s.BadInput++
		}
		if a.Status == http.StatusServiceUnavailable {
			run = append(run, a)
		} else {
			endRun()
		}
	}
	endRun()
	s.Baseline, s.Recovery = r.recovery(from, faultAt, to)
	for _, t := range r.SkippedAt {
		if !t.Before(from) && t.Before(to) {
			s.Skipped++
		}
	}
	return s
}

// recovery measures the 202 rate in 1 s buckets of sending time.
func (r Result) recovery(from, faultAt, to time.Time) (float64, time.Duration) {
	const bucket = time.Second
	n := int(math.Ceil(to.Sub(from).Seconds()))
	if n <= 0 {
		return 0, 0
	}
	accepted := make([]int, n)
	for _, a := range r.Answers {
		if a.Status != http.StatusAccepted || a.Sent.Before(from) || !a.Sent.Before(to) {
			continue
		}
		accepted[int(a.Sent.Sub(from)/bucket)]++
	}
	before := int(faultAt.Sub(from) / bucket)
	if before <= 0 {
		return 0, 0
	}
	total := 0
	for _, v := range accepted[:before] {
		total += v
	}
	baseline := float64(total) / float64(before)
	// The last whole bucket is the end of the load: a partial one would
	// read as a drop.
	last := int(to.Sub(from) / bucket)
	recovered := faultAt
	for i := before; i < last; i++ {
		if float64(accepted[i]) < 0.9*baseline {
			recovered = from.Add(time.Duration(i+1) * bucket)
		}
	}
	if last > before && float64(accepted[last-1]) < 0.9*baseline {
		return baseline, -1
	}
	return baseline, max(0, recovered.Sub(faultAt))
}
