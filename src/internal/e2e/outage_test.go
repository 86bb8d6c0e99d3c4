package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/web"
)

// outage is how long the database stays down.
const outage = 30 * time.Second

// pageBound is what a page may take while the database is down.
const pageBound = time.Second

var pages = []string{"/", "/log", "/history", "/history?exercise=back-squat", "/progress", "/api/v1/plan", "/api/v1/workouts"}

func postWorkout(t *testing.T, s *stack, i int, at time.Time) (string, int) {
	t.Helper()
	body := fmt.Sprintf(`{"exercise":%q,"performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":%d},{"reps":5,"weight":%d}]}`,
		[]string{"back-squat", "bench-press", "deadlift", "barbell-row"}[i%4], at.UTC().Format(time.RFC3339), 60+i%40, 60+i%40)
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v1/workouts", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer res.Body.Close()
	var out struct{ ID string }
	_ = json.NewDecoder(res.Body).Decode(&out)
	return out.ID, res.StatusCode
}

// TestDatabaseOutage stops the database for 30 s while pages are requested
// and workouts logged: every page answers within a second (marked stale once
// the view is old), every workout is accepted after the broker's confirm,
// and every one of them is stored exactly once when the database is back.
func TestDatabaseOutage(t *testing.T) {
	if !mongod.Embedded() {
		t.Skip("MONGODB_URI points at an external server; this test stops the database")
	}
	if testing.Short() {
		t.Skip("30 s outage")
	}
	staleAfter := 3 * time.Second
	s := newStack(t, stackOptions{consumer: true, reader: store.ReaderOptions{
		RefreshAfter: 500 * time.Millisecond, StaleAfter: staleAfter, RetryAfter: 500 * time.Millisecond,
	}})

	var ids []string
	start := time.Now().Add(-48 * time.Hour)
	for i := range 12 {
		id, code := postWorkout(t, s, i, start.Add(time.Duration(i)*time.Hour))
		if code != http.StatusAccepted {
			t.Fatalf("post before the outage: %d", code)
		}
		ids = append(ids, id)
	}
	waitStored(t, s, ids, time.Minute)
	for _, p := range pages {
		get(t, s, p) // warm the user's view
	}

	if err := mongod.Stop(); err != nil {
		t.Fatalf("stop database: %v", err)
	}
	restarted := false
	defer func() {
		if !restarted {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := mongod.Start(ctx); err != nil {
				t.Errorf("restart database: %v", err)
			}
		}
	}()
	down := time.Now()
	var slowest time.Duration
	var requests, stale int
	i := len(ids)
	for time.Since(down) < outage {
		for _, p := range pages {
			d, code, isStale := get(t, s, p)
			requests++
			slowest = max(slowest, d)
			if code != http.StatusOK {
				t.Errorf("%s during the outage: status %d", p, code)
			}
			if d > pageBound {
				t.Errorf("%s took %s during the outage, bound %s", p, d, pageBound)
			}
			if isStale {
				stale++
			} else if p != "/log" && time.Since(down) > staleAfter+2*time.Second {
				t.Errorf("%s not marked stale %s into the outage", p, time.Since(down).Round(time.Second))
			}
		}
		id, code := postWorkout(t, s, i, time.Now().Add(-time.Minute))
		if code != http.StatusAccepted {
			t.Errorf("post during the outage: status %d", code)
		} else {
			ids = append(ids, id)
		}
		i++
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("outage: %d page requests, slowest %s, %d marked stale, %d workouts logged in all", requests, slowest, stale, len(ids))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := mongod.Start(ctx); err != nil {
		t.Fatalf("restart database: %v", err)
	}
	restarted = true
	waitStored(t, s, ids, 2*time.Minute)

	// The view recovers: fresh again, and it shows the outage's workouts.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, code, isStale := get(t, s, "/api/v1/workouts?limit=500")
		if code == http.StatusOK && !isStale {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pages still stale 30 s after the database came back")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitStored waits until every id is stored exactly once.
func waitStored(t *testing.T, s *stack, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := countIDs(ctx, s.db, ids)
		cancel()
		if err == nil && n == int64(len(ids)) {
			return
		}
		if err == nil && n > int64(len(ids)) {
			t.Fatalf("%d documents for %d workouts", n, len(ids))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d workouts stored after %s (last error: %v)", n, len(ids), within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(t testing.TB, s *stack, path string) (time.Duration, int, bool) {
	t.Helper()
	start := time.Now()
	res, err := s.client.Get(s.srv.URL + path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return time.Since(start), res.StatusCode, res.Header.Get(web.StaleHeader) == "true"
}
