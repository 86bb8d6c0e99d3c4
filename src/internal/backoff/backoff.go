// Package backoff computes reconnect and retry delays: exponential growth
// with full jitter, so that replicas that lost the same broker or database do
// not come back in lockstep.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy bounds the delays. The zero value means 100 ms to 10 s.
type Policy struct {
	Min, Max time.Duration
}

func (p Policy) bounds() (time.Duration, time.Duration) {
	lo, hi := p.Min, p.Max
	if lo <= 0 {
		lo = 100 * time.Millisecond
	}
	if hi < lo {
		hi = 10 * time.Second
		if hi < lo {
			hi = lo
		}
	}
	return lo, hi
}

// Delay returns the wait before retry number attempt (0 for the first
// retry): a random duration between Min and min(Max, Min*2^attempt).
func (p Policy) Delay(attempt int) time.Duration {
	lo, hi := p.bounds()
	ceil := lo
	for i := 0; i < attempt && ceil < hi; i++ {
		ceil *= 2
	}
	if ceil > hi {
		ceil = hi
	}
	if ceil == lo {
		return lo
	}
	return lo + rand.N(ceil-lo+1)
}

// Sleep waits for Delay(attempt) or until ctx ends, and reports whether the
// full delay passed.
func (p Policy) Sleep(ctx context.Context, attempt int) bool {
	t := time.NewTimer(p.Delay(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
