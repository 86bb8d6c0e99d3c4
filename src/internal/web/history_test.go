package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// History shows exercise names, notes and RPE, and pages beyond the
// newest 200 with the filter kept.
func TestHistoryPagesNamesNotes(t *testing.T) {
	var ws []workout.Workout
	for i := range 450 {
		w := sample(i+1, i, "bench-press", 60, 5)
		ws = append(ws, w)
	}
	ws[0].Notes = "paused reps <b>"
	ws[0].Sets[0].RPE = 8.5
	e := newEnv(t, nil, ws...)

	_, body := e.do(t, httptest.NewRequest(http.MethodGet, "/history?exercise=bench-press", nil))
	if n := strings.Count(body, "<tr data-id="); n != historyPageLimit {
		t.Errorf("page 1 has %d rows, want %d", n, historyPageLimit)
	}
	for _, want := range []string{"Bench press", `<p class="notes">paused reps &lt;b&gt;</p>`, "1 × 5 @ 60 kg RPE 8.5",
		`href="/history?exercise=bench-press&amp;page=2"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	if strings.Contains(body, `id="newer"`) {
		t.Error("page 1 links a newer page")
	}
	_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history?exercise=bench-press&page=3", nil))
	if n := strings.Count(body, "<tr data-id="); n != 50 || !strings.Contains(body, `data-id="`+ws[449].ID+`"`) {
		t.Errorf("page 3 has %d rows (want the oldest 50)", n)
	}
	if strings.Contains(body, `id="older"`) || !strings.Contains(body, `href="/history?exercise=bench-press&amp;page=2"`) {
		t.Error("page 3 links an older page, or not the newer one")
	}
	for _, bad := range []string{"0", "26", "x"} {
		if res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/history?page="+bad, nil)); res.StatusCode != http.StatusBadRequest {
			t.Errorf("page=%s: %d, want 400", bad, res.StatusCode)
		}
	}
}
