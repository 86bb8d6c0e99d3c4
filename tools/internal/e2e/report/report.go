// Package report prints the outcome of the end-to-end test: one line per
// check as it happens, notes for what is reported without being asserted,
// and a closing "N passed, N failed" line.
package report

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Report writes check results to w.
type Report struct {
	mu     sync.Mutex
	w      io.Writer
	passed int
	failed int
}

// New returns a Report writing to w.
func New(w io.Writer) *Report { return &Report{w: w} }

// Pass records a check that held; took is printed when non-zero.
func (r *Report) Pass(name, detail string, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.passed++
	fmt.Fprintf(r.w, "PASS %s%s: %s\n", name, duration(took), detail)
}

// Fail records a check that did not hold.
func (r *Report) Fail(name, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed++
	fmt.Fprintf(r.w, "FAIL %s: %s\n", name, detail)
}

// Check records a pass when err is nil and a failure otherwise.
func (r *Report) Check(name, detail string, took time.Duration, err error) {
	if err != nil {
		r.Fail(name, err.Error())
		return
	}
	r.Pass(name, detail, took)
}

// Note prints information that is not a check.
func (r *Report) Note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "NOTE "+format+"\n", args...)
}

// Failed is the number of failed checks so far.
func (r *Report) Failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// Summary prints the totals and the run time.
func (r *Report) Summary(took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "\ne2e run time: %s\n", took.Round(time.Second))
	fmt.Fprintf(r.w, "%d passed, %d failed\n", r.passed, r.failed)
}

func duration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprintf(" (%s)", d.Round(100*time.Millisecond))
}
