package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// memSnapshots keeps snapshots in memory, can block reads, and counts
// writes.
type memSnapshots struct {
	mu     sync.Mutex
	data   map[string]Snapshot
	block  chan struct{}
	writes atomic.Int64
}

func (m *memSnapshots) LoadSnapshot(ctx context.Context, user string) (Snapshot, bool, error) {
	m.mu.Lock()
	block := m.block
	m.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return Snapshot{}, false, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.data[user]
	s.Workouts = slices.Clone(s.Workouts)
	return s, ok, nil
}

func (m *memSnapshots) SaveSnapshot(ctx context.Context, user string, s Snapshot) error {
	m.writes.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string]Snapshot{}
	}
	m.data[user] = s
	return nil
}

func (m *memSnapshots) get(user string) (Snapshot, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.data[user]
	return s, ok
}

func withSnapshots(s Snapshots) func(*ReaderOptions) {
	return func(o *ReaderOptions) { o.Snapshots = s }
}

// A restarted reader answers the first request from the snapshot its
// predecessor left, while the full load is still running, and then
// installs the load's newer data.
func TestRestartAnswersFromSnapshotWhileLoading(t *testing.T) {
	ctx := context.Background()
	snaps := &memSnapshots{}
	c := &clock{t: day0.AddDate(2, 0, 0)}
	l := &fakeLoader{}
	l.set("ana", history("ana", 600), nil)
	before := newTestReader(l, c, withSnapshots(snaps))
	if err := before.Warm(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	if err := before.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	saved, ok := snaps.get("ana")
	if !ok || len(saved.Workouts) != 600 || !saved.AsOf.Equal(c.Now()) {
		t.Fatalf("snapshot after the first load: found=%v workouts=%d asOf=%v", ok, len(saved.Workouts), saved.AsOf)
	}

	// The restart: a slow full load that also holds one more workout.
	c.Add(10 * time.Second)
	slow := &fakeLoader{block: make(chan struct{})}
	slow.set("ana", append(history("ana", 600), history("ana", 601)[600]), nil)
	// The wait bound is longer than the test may take: History must answer
	// when the snapshot is in, not at a deadline.
	after := newTestReader(slow, c, func(o *ReaderOptions) { o.Snapshots, o.WaitTimeout = snaps, time.Hour })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := after.History(wctx, "ana", Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if wctx.Err() != nil {
		t.Fatal("History waited until the caller's deadline although the snapshot was there")
	}
	if len(v.Workouts) != 600 || !v.AsOf.Equal(saved.AsOf) || v.Stale {
		t.Fatalf("first answer after restart: %d workouts, asOf %v, stale %v; want the snapshot's 600 as of %v, not stale",
			len(v.Workouts), v.AsOf, v.Stale, saved.AsOf)
	}

	close(slow.block)
	c.Add(after.refreshAfter() + time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err = after.History(ctx, "ana", Query{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Workouts) == 601 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the full load's workout never appeared: %d workouts", len(v.Workouts))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := after.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := snaps.get("ana"); len(s.Workouts) != 601 {
		t.Errorf("snapshot after the changed load holds %d workouts, want 601", len(s.Workouts))
	}
}

// A snapshot is written when the loaded history changed, not on every
// load.
func TestSnapshotWrittenOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	snaps := &memSnapshots{}
	c := &clock{t: day0.AddDate(2, 0, 0)}
	l := &fakeLoader{}
	l.set("bo", history("bo", 30), nil)
	r := newTestReader(l, c, withSnapshots(snaps))
	reload := func() {
		t.Helper()
		c.Add(r.opts.StaleAfter + time.Second)
		if err := r.Warm(ctx, "bo"); err != nil {
			t.Fatal(err)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	reload()
	reload()
	if n := snaps.writes.Load(); n != 1 {
		t.Fatalf("%d snapshot writes for three loads of the same history, want 1", n)
	}
	edited := history("bo", 30)
	edited[3].Version, edited[3].Deleted = 5, true
	l.set("bo", edited, nil)
	reload()
	if n := snaps.writes.Load(); n != 2 {
		t.Fatalf("%d snapshot writes after a delete, want 2", n)
	}
	s, _ := snaps.get("bo")
	var deleted int
	for _, w := range s.Workouts {
		if w.Deleted {
			deleted++
		}
	}
	if len(s.Workouts) != 30 || deleted != 1 {
		t.Errorf("snapshot holds %d workouts, %d deleted; want 30 and 1", len(s.Workouts), deleted)
	}

	// A restarted reader keeps the deleted one apart, as undo needs.
	r2 := newTestReader(&fakeLoader{block: make(chan struct{})}, c, withSnapshots(snaps))
	live, err := r2.History(ctx, "bo", Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	gone, err := r2.History(ctx, "bo", Query{Limit: -1, Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Workouts) != 29 || len(gone.Workouts) != 1 {
		t.Errorf("from the snapshot: %d live, %d deleted; want 29 and 1", len(live.Workouts), len(gone.Workouts))
	}
	// Reading the snapshot back does not count as a change to write.
	if n := snaps.writes.Load(); n != 2 {
		t.Errorf("%d snapshot writes after a restart, want 2", n)
	}
}

// When the full load answers before the snapshot, the snapshot (older) is
// not installed over it.
func TestLoadBeatsSlowSnapshot(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: day0.AddDate(2, 0, 0)}
	snaps := &memSnapshots{block: make(chan struct{})}
	snaps.data = map[string]Snapshot{"cy": {AsOf: c.Now().Add(-time.Hour), Workouts: history("cy", 5)}}
	l := &fakeLoader{}
	l.set("cy", history("cy", 8), nil)
	r := newTestReader(l, c, withSnapshots(snaps))
	if err := r.Warm(ctx, "cy"); err != nil {
		t.Fatal(err)
	}
	close(snaps.block)
	// Let the snapshot read finish; it must leave the view alone.
	time.Sleep(50 * time.Millisecond)
	v, err := r.History(ctx, "cy", Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Workouts) != 8 || !v.AsOf.Equal(c.Now()) {
		t.Errorf("view holds %d workouts as of %v; want the load's 8 as of %v", len(v.Workouts), v.AsOf, c.Now())
	}
}

// An old snapshot is shown, but marked stale: the page says the data is
// not current.
func TestOldSnapshotIsStale(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: day0.AddDate(2, 0, 0)}
	snaps := &memSnapshots{data: map[string]Snapshot{"dee": {AsOf: c.Now().Add(-time.Hour), Workouts: history("dee", 12)}}}
	r := newTestReader(&fakeLoader{block: make(chan struct{})}, c, withSnapshots(snaps))
	v, err := r.History(ctx, "dee", Query{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Workouts) != 12 || !v.Stale {
		t.Errorf("hour-old snapshot: %d workouts, stale %v; want 12, stale", len(v.Workouts), v.Stale)
	}
}

func TestSnapshotOfBoundsAndHashIgnoresOrder(t *testing.T) {
	ws := history("eve", MaxPerUser+30)
	for i := range 20 {
		ws[i].Deleted, ws[i].Version = true, 1
	}
	s := snapshotOf(ws, day0)
	var live, deleted int
	for _, w := range s.Workouts {
		if w.Deleted {
			deleted++
		} else {
			live++
		}
	}
	if live != MaxPerUser || deleted != 20 {
		t.Errorf("snapshot keeps %d live and %d deleted, want %d and 20", live, deleted, MaxPerUser)
	}
	shuffled := slices.Clone(ws)
	slices.Reverse(shuffled)
	if contentHash(ws) != contentHash(shuffled) {
		t.Error("hash depends on order")
	}
	changed := slices.Clone(ws)
	changed[7].Version++
	if contentHash(ws) == contentHash(changed) {
		t.Error("hash misses a new version")
	}
	if contentHash(nil) == contentHash([]workout.Workout{ws[0]}) {
		t.Error("hash of one workout equals the empty one's")
	}
}
