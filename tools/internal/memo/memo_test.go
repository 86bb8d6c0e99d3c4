package memo

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDo(t *testing.T) {
	var m Map[string, int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			v, err := m.Do("a", func() (int, error) { calls.Add(1); return 42, nil })
			if v != 42 || err != nil {
				t.Errorf("Do(a) = %d, %v", v, err)
			}
		})
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("f called %d times for one key, want 1", calls.Load())
	}
	boom := errors.New("boom")
	if _, err := m.Do("b", func() (int, error) { return 0, boom }); err != boom {
		t.Fatalf("Do(b) err %v, want boom", err)
	}
	// An error is remembered too: the work is not retried within a run.
	if _, err := m.Do("b", func() (int, error) { return 1, nil }); err != boom {
		t.Fatalf("second Do(b) err %v, want the remembered boom", err)
	}
}
