package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// fakeLoader serves users' workouts from memory, can fail or block, and
// counts loads.
type fakeLoader struct {
	mu        sync.Mutex
	data      map[string][]workout.Workout
	err       error
	block     chan struct{}
	loads     atomic.Int64
	lastBatch int
}

func (f *fakeLoader) LoadUsers(ctx context.Context, users []string) (map[string][]workout.Workout, error) {
	f.loads.Add(1)
	f.mu.Lock()
	block, err := f.block, f.err
	out := map[string][]workout.Workout{}
	for _, u := range users {
		out[u] = append([]workout.Workout(nil), f.data[u]...)
	}
	f.lastBatch = len(users)
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *fakeLoader) set(user string, ws []workout.Workout, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		f.data = map[string][]workout.Workout{}
	}
	f.data[user] = ws
	f.err = err
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var day0 = time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)

func history(user string, n int) []workout.Workout {
	ex := []string{"back-squat", "bench-press", "deadlift", "overhead-press"}
	var ws []workout.Workout
	for i := range n {
		ws = append(ws, workout.Workout{
			ID:          fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			UserID:      user,
			Exercise:    ex[i%len(ex)],
			PerformedAt: day0.AddDate(0, 0, i),
			Unit:        workout.Kilograms,
			Sets:        []workout.Set{{Reps: 5, Weight: 60}},
			LoggedAt:    day0.AddDate(0, 0, i).Add(time.Hour),
		})
	}
	// Any order: the loader does not sort.
	for i, j := 0, len(ws)-1; i < j; i, j = i+2, j-2 {
		ws[i], ws[j] = ws[j], ws[i]
	}
	return ws
}

func TestQueryApply(t *testing.T) {
	ws := history("u", 40)
	slices.SortFunc(ws, oldestFirst) // as a view holds them
	tests := []struct {
		name  string
		q     Query
		first string
		n     int
	}{
		{name: "default limit keeps all 40", q: Query{}, first: "02-13", n: 40},
		{name: "limit", q: Query{Limit: 3}, first: "02-13", n: 3},
		{name: "exercise", q: Query{Exercise: "deadlift"}, first: "02-12", n: 10},
		{name: "range is half open", q: Query{From: day0.AddDate(0, 0, 10), To: day0.AddDate(0, 0, 20)}, first: "01-24", n: 10},
		{name: "exercise in range", q: Query{Exercise: "back-squat", From: day0.AddDate(0, 0, 8), To: day0.AddDate(0, 0, 17)}, first: "01-21", n: 3},
		{name: "whole history", q: Query{Limit: -1}, first: "02-13", n: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.q.apply(ws)
			if len(got) != tt.n {
				t.Fatalf("got %d workouts, want %d", len(got), tt.n)
			}
			if f := got[0].PerformedAt.Format("01-02"); f != tt.first {
				t.Errorf("first is %s, want %s", f, tt.first)
			}
			for i := 1; i < len(got); i++ {
				if got[i].PerformedAt.After(got[i-1].PerformedAt) {
					t.Fatalf("not newest first at %d", i)
				}
			}
		})
	}
}

func TestQueryCheck(t *testing.T) {
	if err := (Query{From: day0, To: day0}).check(); !errors.Is(err, ErrBadQuery) {
		t.Errorf("empty range: %v", err)
	}
	if err := (Query{Limit: MaxLimit + 1}).check(); !errors.Is(err, ErrBadQuery) {
		t.Errorf("limit: %v", err)
	}
	if err := (Query{From: day0, To: day0.Add(time.Hour), Limit: 10}).check(); err != nil {
		t.Errorf("good query: %v", err)
	}
}

func newTestReader(l Loader, c *clock, mutate func(*ReaderOptions)) *Reader {
	o := ReaderOptions{Now: c.Now, RefreshAfter: 5 * time.Second, StaleAfter: 30 * time.Second, WaitTimeout: 200 * time.Millisecond, RetryAfter: 2 * time.Second}
	if mutate != nil {
		mutate(&o)
	}
	return NewReaderWithLoader(l, o)
}

func TestReaderLoadsOnceAndServesFromMemory(t *testing.T) {
	l := &fakeLoader{}
	l.set("ana", history("ana", 600), nil)
	c := &clock{t: day0.AddDate(2, 0, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	for i := range 50 {
		v, err := r.History(ctx, "ana", Query{Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		if v.Stale || len(v.Workouts) != 20 {
			t.Fatalf("request %d: stale=%v n=%d", i, v.Stale, len(v.Workouts))
		}
	}
	if n := l.loads.Load(); n != 1 {
		t.Errorf("%d loads for 50 requests within RefreshAfter, want 1", n)
	}
}

func TestReaderRefreshesInTheBackground(t *testing.T) {
	l := &fakeLoader{}
	l.set("ana", history("ana", 10), nil)
	c := &clock{t: day0.AddDate(1, 0, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	l.set("ana", history("ana", 11), nil)
	c.Add(6 * time.Second) // past RefreshAfter, within StaleAfter
	v, err := r.History(ctx, "ana", Query{})
	if err != nil {
		t.Fatal(err)
	}
	// This answer is from memory; the refresh runs behind it.
	if len(v.Workouts) != 10 || v.Stale {
		t.Fatalf("n=%d stale=%v, want the 10 known, not stale", len(v.Workouts), v.Stale)
	}
	waitLoads(t, l, 2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _ = r.History(ctx, "ana", Query{})
		if len(v.Workouts) == 11 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refresh never showed the new workout")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitLoads(t *testing.T, l *fakeLoader, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.loads.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d loads, want %d", l.loads.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReaderAnswersStaleWithinBoundWhenDatabaseFails(t *testing.T) {
	l := &fakeLoader{}
	l.set("bo", history("bo", 5), nil)
	c := &clock{t: day0.AddDate(1, 0, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "bo"); err != nil {
		t.Fatal(err)
	}
	asOf := c.Now()
	// The database hangs: the next load blocks until its deadline.
	l.mu.Lock()
	l.block = make(chan struct{})
	l.mu.Unlock()
	defer close(l.block)
	c.Add(time.Minute)
	v, err := r.History(ctx, "bo", Query{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Stale || !v.AsOf.Equal(asOf) || len(v.Workouts) != 5 {
		t.Errorf("stale=%v asOf=%v n=%d, want the last known view marked stale as of %v", v.Stale, v.AsOf, len(v.Workouts), asOf)
	}
	if n := l.loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2 (one refresh in flight)", n)
	}
}

func TestReaderDoesNotWaitAgainAfterAFailure(t *testing.T) {
	l := &fakeLoader{}
	l.set("cy", nil, errors.New("server selection timeout"))
	c := &clock{t: day0}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "cy"); err == nil {
		t.Fatal("Warm succeeded with a failing database")
	}
	v, err := r.History(ctx, "cy", Query{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.Stale || !v.AsOf.IsZero() || len(v.Workouts) != 0 {
		t.Errorf("never-loaded view: %+v", v)
	}
	if n := l.loads.Load(); n != 1 {
		t.Errorf("%d loads, want no retry within RetryAfter", n)
	}
	c.Add(3 * time.Second)
	l.set("cy", history("cy", 3), nil)
	if _, err := r.History(ctx, "cy", Query{}); err != nil {
		t.Fatal(err)
	}
	waitLoads(t, l, 2)
}

func TestRememberShowsPublishedWorkoutsUntilStored(t *testing.T) {
	l := &fakeLoader{}
	old := history("dee", 3)
	l.set("dee", old, nil)
	c := &clock{t: day0.AddDate(0, 1, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "dee"); err != nil {
		t.Fatal(err)
	}
	fresh := workout.Workout{ID: "ffffffff-0000-4000-8000-000000000000", UserID: "dee", Exercise: "deadlift",
		PerformedAt: c.Now(), Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 3, Weight: 150}}, LoggedAt: c.Now()}
	r.Remember(fresh)
	v, _ := r.History(ctx, "dee", Query{})
	if len(v.Workouts) != 4 || v.Workouts[0].ID != fresh.ID {
		t.Fatalf("remembered workout not first: %+v", v.Workouts)
	}
	if len(v.Pending) != 1 || !v.Pending[fresh.ID] {
		t.Fatalf("pending = %v, want only %s", v.Pending, fresh.ID)
	}
	// A reload that does not show it yet keeps it, still pending.
	c.Add(6 * time.Second)
	if err := r.Warm(ctx, "dee"); err != nil {
		t.Fatal(err)
	}
	if v, _ = r.History(ctx, "dee", Query{}); len(v.Workouts) != 4 || !v.Pending[fresh.ID] {
		t.Fatalf("after a reload without it: %d workouts, pending %v", len(v.Workouts), v.Pending)
	}
	// A query that leaves it out marks nothing.
	if v, _ = r.History(ctx, "dee", Query{Exercise: "bench-press"}); len(v.Pending) != 0 {
		t.Fatalf("pending %v for a query without it", v.Pending)
	}
	// Once stored, it appears once.
	l.set("dee", append(history("dee", 3), fresh), nil)
	c.Add(6 * time.Second)
	if err := r.Warm(ctx, "dee"); err != nil {
		t.Fatal(err)
	}
	v, _ = r.History(ctx, "dee", Query{})
	if len(v.Workouts) != 4 || len(v.Pending) != 0 {
		t.Fatalf("after it was stored: %d workouts (want 4), pending %v (want none)", len(v.Workouts), v.Pending)
	}
}

func TestRememberKeepsTheViewNewestFirst(t *testing.T) {
	l := &fakeLoader{}
	l.set("eve", history("eve", 5), nil)
	c := &clock{t: day0.AddDate(0, 1, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "eve"); err != nil {
		t.Fatal(err)
	}
	// Logged out of order, including one back-dated between stored ones and
	// two on the same day told apart by their logged time.
	for i, back := range []int{0, 40, 3, 0} {
		r.Remember(workout.Workout{
			ID: fmt.Sprintf("eeeeeeee-0000-4000-8000-%012d", i), UserID: "eve", Exercise: "bench-press",
			PerformedAt: c.Now().AddDate(0, 0, -back), LoggedAt: c.Now().Add(time.Duration(i) * time.Second),
			Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 60}},
		})
	}
	v, _ := r.History(ctx, "eve", Query{})
	if len(v.Workouts) != 9 {
		t.Fatalf("got %d workouts, want 9", len(v.Workouts))
	}
	want := slices.Clone(v.Workouts)
	slices.SortFunc(want, newestFirst)
	for i := range want {
		if v.Workouts[i].ID != want[i].ID {
			t.Fatalf("position %d: %s, want %s (view not newest first)", i, v.Workouts[i].ID, want[i].ID)
		}
	}
	if v.Workouts[0].ID != "eeeeeeee-0000-4000-8000-000000000003" {
		t.Errorf("newest is %s, want the last one logged today", v.Workouts[0].ID)
	}
}

func TestReaderEvictsLeastRecentlyUsed(t *testing.T) {
	l := &fakeLoader{}
	c := &clock{t: day0}
	r := newTestReader(l, c, func(o *ReaderOptions) { o.MaxUsers = 2 })
	ctx := context.Background()
	for _, u := range []string{"a", "b", "a", "c"} {
		l.set(u, history(u, 1), nil)
		c.Add(time.Millisecond)
		if _, err := r.History(ctx, u, Query{}); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.views["b"]; ok || len(r.views) != 2 {
		t.Errorf("views after eviction: %v", keys(r.views))
	}
}

func keys(m map[string]*view) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWaitingUsersShareOneLoad(t *testing.T) {
	l := &fakeLoader{}
	gate := make(chan struct{})
	l.block = gate
	for _, u := range []string{"a", "b", "c", "d"} {
		l.set(u, history(u, 2), nil)
	}
	c := &clock{t: day0}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	// "a" starts a load that hangs; b, c and d queue behind it.
	if _, err := r.History(ctx, "a", Query{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, u := range []string{"b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Warm(ctx, u); err != nil {
				t.Error(err)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.qmu.Lock()
		queued := len(r.queue)
		r.qmu.Unlock()
		if queued == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d users queued, want 3", queued)
		}
		time.Sleep(time.Millisecond)
	}
	l.mu.Lock()
	l.block = nil
	l.mu.Unlock()
	close(gate)
	wg.Wait()
	if n := l.loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2 (a, then b, c and d together)", n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastBatch != 3 {
		t.Errorf("last load read %d users, want 3", l.lastBatch)
	}
}

// TestRememberARetryShowsOnce: a retried POST (same id, a later logged
// time) shows once, whether the first attempt is pending or stored.
func TestRememberARetryShowsOnce(t *testing.T) {
	l := &fakeLoader{}
	stored := history("fay", 6)
	l.set("fay", stored, nil)
	c := &clock{t: day0.AddDate(0, 1, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "fay"); err != nil {
		t.Fatal(err)
	}
	fresh := workout.Workout{ID: "ffffffff-0000-4000-8000-000000000001", UserID: "fay", Exercise: "deadlift",
		PerformedAt: stored[2].PerformedAt, Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 3, Weight: 150}}, LoggedAt: c.Now()}
	retryOfStored := stored[2]
	retryOfStored.LoggedAt = c.Now()
	for _, w := range []workout.Workout{fresh, retryOfStored} {
		r.Remember(w)
		w.LoggedAt = w.LoggedAt.Add(time.Minute)
		r.Remember(w)
	}
	v, _ := r.History(ctx, "fay", Query{})
	if len(v.Workouts) != 7 {
		t.Fatalf("%d workouts, want the 6 stored and 1 pending", len(v.Workouts))
	}
	seen := map[string]bool{}
	for _, w := range v.Workouts {
		if seen[w.ID] {
			t.Errorf("%s shown twice", w.ID)
		}
		seen[w.ID] = true
	}
}

// An edit or a delete shows at once in place of the workout's older
// copy, stays over the stored copy until a load shows it, and an older
// change (a late message from another replica) changes nothing.
func TestRememberChanges(t *testing.T) {
	l := &fakeLoader{}
	stored := history("eve", 3)
	l.set("eve", stored, nil)
	c := &clock{t: day0.AddDate(0, 1, 0)}
	r := newTestReader(l, c, nil)
	ctx := context.Background()
	if err := r.Warm(ctx, "eve"); err != nil {
		t.Fatal(err)
	}
	find := func(q Query, id string) (workout.Workout, bool) {
		t.Helper()
		v, err := r.History(ctx, "eve", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range v.Workouts {
			if w.ID == id {
				return w, true
			}
		}
		return workout.Workout{}, false
	}
	reload := func(ws []workout.Workout) {
		t.Helper()
		l.set("eve", ws, nil)
		c.Add(6 * time.Second)
		if err := r.Warm(ctx, "eve"); err != nil {
			t.Fatal(err)
		}
	}

	target := stored[1]
	edit := target
	edit.Sets = []workout.Set{{Reps: 2, Weight: 999}}
	edit.Version = 2_000
	r.Remember(edit)
	older := target
	older.Sets = []workout.Set{{Reps: 1, Weight: 1}}
	older.Version = 1_000
	r.Remember(older)
	if got, ok := find(Query{}, target.ID); !ok || got.Version != 2_000 {
		t.Fatalf("after the edit and an older one: %+v (found %v), want version 2000", got, ok)
	}
	if v, _ := r.History(ctx, "eve", Query{}); len(v.Workouts) != 3 || !v.Pending[target.ID] {
		t.Fatalf("%d workouts, pending %v; want 3 with the edit pending", len(v.Workouts), v.Pending)
	}
	// A load that still has the first version keeps the edit.
	reload(stored)
	if got, _ := find(Query{}, target.ID); got.Version != 2_000 {
		t.Fatalf("a load of the older copy replaced the edit: %+v", got)
	}

	del := edit
	del.Deleted, del.Version = true, 3_000
	r.Remember(del)
	if _, ok := find(Query{}, target.ID); ok {
		t.Fatal("deleted workout still listed")
	}
	if got, ok := find(Query{Deleted: true}, target.ID); !ok || got.Version != 3_000 {
		t.Fatalf("deleted workout not kept for undo: %+v (found %v)", got, ok)
	}
	reload(stored)
	if _, ok := find(Query{}, target.ID); ok {
		t.Fatal("a load of the older copy brought a deleted workout back")
	}
	// Stored as deleted: no longer pending, still out of the list.
	withTombstone := append([]workout.Workout(nil), stored...)
	withTombstone[1] = del
	reload(withTombstone)
	if v, _ := r.History(ctx, "eve", Query{}); len(v.Workouts) != 2 || len(v.Pending) != 0 {
		t.Fatalf("after the delete was stored: %d workouts (want 2), pending %v (want none)", len(v.Workouts), v.Pending)
	}
	// A retry of the workout's first POST does not bring it back.
	r.Remember(target)
	if _, ok := find(Query{}, target.ID); ok {
		t.Fatal("a retried create brought a deleted workout back")
	}
	// Undo: a newer version without the mark.
	undo := edit
	undo.Version = 4_000
	r.Remember(undo)
	if got, ok := find(Query{}, target.ID); !ok || got.Version != 4_000 {
		t.Fatalf("undo not shown: %+v (found %v)", got, ok)
	}
	if _, ok := find(Query{Deleted: true}, target.ID); ok {
		t.Fatal("undone workout still among the deleted")
	}
}
