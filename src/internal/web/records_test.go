package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Logging a heavier squat than ever shows a record in the flash and a
// badge on its row; the records page and the API list the bests.
func TestRecords(t *testing.T) {
	e := newEnv(t, nil,
		sample(1, 9, "back-squat", 100, 5, 5, 5),
		sample(2, 5, "back-squat", 102.5, 5, 5, 5),
		sample(3, 2, "back-squat", 100, 5, 5, 5),
		sample(4, 3, "plank", 0, 45, 60),
	)
	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/history", nil))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("history: %d", res.StatusCode)
	}
	row := func(body, id string) string {
		i := strings.Index(body, `<tr data-id="`+id+`"`)
		if i < 0 {
			t.Fatalf("no row for %s", id)
		}
		return body[i : i+strings.Index(body[i:], "</tr>")]
	}
	if r := row(body, sample(2, 0, "", 0).ID); !strings.Contains(r, `class="pr"`) || !strings.Contains(r, "heaviest 5 reps: 102.5 kg") {
		t.Errorf("the 102.5 kg squat has no record badge: %s", r)
	}
	for _, n := range []int{1, 3, 4} {
		if r := row(body, sample(n, 0, "", 0).ID); strings.Contains(r, `class="pr"`) {
			t.Errorf("workout %d has a record badge: %s", n, r)
		}
	}

	post := postForm(formBody(map[string]string{"exercise": "back-squat", "date": now.Format(DateLayout), "tz": "UTC", "unit": "kg",
		"reps_0": "5", "weight_0": "105", "idempotency_key": "11111111-2222-4333-8444-555555555555"}))
	res, _ = e.do(t, post)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log: %d", res.StatusCode)
	}
	_, body = e.do(t, httptest.NewRequest(http.MethodGet, res.Header.Get("Location"), nil))
	if !strings.Contains(body, "New personal record: estimated 1RM 122.5 kg") {
		t.Errorf("no record in the flash after a heavier squat:\n%s", body)
	}

	_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/records", nil))
	for _, want := range []string{"Estimated 1RM 122.5 kg (5 × 105 kg)", "Heaviest 5 reps: 105 kg", "Longest hold: 60 s"} {
		if !strings.Contains(body, want) {
			t.Errorf("records page lacks %q", want)
		}
	}

	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/records", nil))
	var out apiRecords
	if err := json.Unmarshal([]byte(body), &out); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("api: %d %s: %v", res.StatusCode, body, err)
	}
	if len(out.Broken["11111111-2222-4333-8444-555555555555"]) == 0 || len(out.Records) == 0 {
		t.Errorf("api records: %+v", out)
	}

	// Never read: no records made from nothing.
	e.rd.mu.Lock()
	e.rd.stale = true
	e.rd.mu.Unlock()
	if res, _ = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/records", nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("records of a history never read: %d, want 503", res.StatusCode)
	}
}
