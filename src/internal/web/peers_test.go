package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

type fakeAnnouncer struct {
	mu  sync.Mutex
	ids []string
}

func (a *fakeAnnouncer) Announce(w workout.Workout) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ids = append(a.ids, w.ID)
}

func (a *fakeAnnouncer) announced() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// TestConfirmedWorkoutsAreAnnouncedAndShownPending: a confirmed workout is
// announced to the other replicas (a refused one is not), and pages and
// the API mark it pending until the database shows it.
func TestConfirmedWorkoutsAreAnnouncedAndShownPending(t *testing.T) {
	stored := sample(1, 2, "deadlift", 140, 5)
	pub, rd, peers := &fakePublisher{}, newFakeReader(stored), &fakeAnnouncer{}
	srv, err := New(Options{Publisher: pub, Reader: rd, Peers: peers, Auth: access.Dev{User: devUser},
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, pub: pub, rd: rd}
	const key = "0b5e7d4c-1a2f-4e3d-8c9b-7a6f5e4d3c2b"
	if res, body := e.do(t, postJSON(validBody, map[string]string{IdempotencyKeyHeader: key})); res.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %d %s", res.StatusCode, body)
	}
	if got := peers.announced(); len(got) != 1 || got[0] != key {
		t.Fatalf("announced %v, want [%s]", got, key)
	}

	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/workouts", nil))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `"pending":["`+key+`"]`) {
		t.Errorf("api: %d %s, want only %s pending", res.StatusCode, body, key)
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history", nil))
	if res.StatusCode != http.StatusOK || strings.Count(body, `class="pending"`) != 1 {
		t.Errorf("history page: %d, %d pending marks, want 1", res.StatusCode, strings.Count(body, `class="pending"`))
	}
	row := body[strings.Index(body, `data-id="`+key+`"`):]
	if !strings.Contains(row[:strings.Index(row, "</tr>")], `class="pending"`) {
		t.Errorf("the pending mark is not on the accepted workout's row")
	}

	pub.mu.Lock()
	pub.err = errBrokerDown
	pub.mu.Unlock()
	if res, _ := e.do(t, postJSON(validBody, nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("post with the broker down: %d", res.StatusCode)
	}
	if got := peers.announced(); len(got) != 1 {
		t.Errorf("a workout the broker did not confirm was announced: %v", got)
	}
}
