package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelayStaysWithinBounds(t *testing.T) {
	tests := []struct {
		name     string
		p        Policy
		attempt  int
		lo, ceil time.Duration
	}{
		{name: "zero policy first retry", p: Policy{}, attempt: 0, lo: 100 * time.Millisecond, ceil: 100 * time.Millisecond},
		{name: "grows", p: Policy{Min: 10 * time.Millisecond, Max: time.Second}, attempt: 3, lo: 10 * time.Millisecond, ceil: 80 * time.Millisecond},
		{name: "capped", p: Policy{Min: 10 * time.Millisecond, Max: time.Second}, attempt: 40, lo: 10 * time.Millisecond, ceil: time.Second},
		{name: "max below min", p: Policy{Min: time.Minute, Max: time.Second}, attempt: 5, lo: time.Minute, ceil: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 200 {
				d := tt.p.Delay(tt.attempt)
				if d < tt.lo || d > tt.ceil {
					t.Fatalf("Delay(%d) = %v, want in [%v, %v]", tt.attempt, d, tt.lo, tt.ceil)
				}
				seen[d] = true
			}
			if tt.lo != tt.ceil && len(seen) < 10 {
				t.Errorf("only %d distinct delays: no jitter", len(seen))
			}
		})
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if (Policy{Min: time.Hour}).Sleep(ctx, 0) {
		t.Error("Sleep reported a full delay on a cancelled context")
	}
	if !(Policy{Min: time.Millisecond}).Sleep(context.Background(), 0) {
		t.Error("Sleep did not report the full delay")
	}
}
