package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSessionForm(t *testing.T) {
	e := newEnv(t, nil)
	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/session", nil))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="exercise_3"`) || !strings.Contains(body, `name="reps_2_5"`) {
		t.Fatalf("session form: %d", res.StatusCode)
	}
	const key = "3b1d6f0e-9a2c-4d5e-8f71-0a2b3c4d5e6f"
	fields := map[string]string{"idempotency_key": key, "date": now.Format(DateLayout), "tz": "UTC", "unit": "kg",
		"exercise_0": "back-squat", "reps_0_0": "5", "weight_0_0": "100", "reps_0_1": "5", "weight_0_1": "100", "rpe_0_1": "8",
		"exercise_2": "pull-up", "reps_2_0": "8", "notes_2": "strict"}
	res, body = e.do(t, formTo("/session", formBody(fields)))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("submit: %d\n%s", res.StatusCode, body)
	}
	pub := e.pub.all()
	if len(pub) != 2 || pub[0].Exercise != "back-squat" || len(pub[0].Sets) != 2 || pub[0].Sets[1].RPE != 8 ||
		pub[1].Exercise != "pull-up" || pub[1].Notes != "strict" || pub[0].ID == pub[1].ID || !pub[0].PerformedAt.Equal(pub[1].PerformedAt) {
		t.Fatalf("published %+v", pub)
	}
	// Sent again (a double tap): nothing more.
	if res, _ = e.do(t, formTo("/session", formBody(fields))); res.StatusCode != http.StatusSeeOther || len(e.pub.all()) != 2 {
		t.Errorf("resent session: %d, %d published", res.StatusCode, len(e.pub.all()))
	}
	// One invalid exercise: nothing of the session is logged, the error
	// names the exercise and the set.
	fields["idempotency_key"] = "4c2e7a1f-0b3d-4e6f-9a82-1b3c4d5e6f70"
	fields["reps_2_1"] = "many"
	res, body = e.do(t, formTo("/session", formBody(fields)))
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Exercise 3, set 2 reps: enter a whole number") || len(e.pub.all()) != 2 {
		t.Errorf("invalid session: %d, %d published\n%s", res.StatusCode, len(e.pub.all()), body)
	}
	if res, body = e.do(t, formTo("/session", formBody(map[string]string{"date": now.Format(DateLayout), "unit": "kg"}))); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "choose an exercise") {
		t.Errorf("empty session: %d", res.StatusCode)
	}
}

func TestAPIPostSession(t *testing.T) {
	e := newEnv(t, nil)
	body := `{"performed_at":"2026-11-20T17:00:00Z","unit":"lb","exercises":[{"exercise":"deadlift","sets":[{"reps":5,"weight":315}]},{"exercise":"plank","sets":[{"reps":90}],"notes":"hollow"}]}`
	req := postJSON(body, map[string]string{IdempotencyKeyHeader: "5d3f8b2a-1c4e-4f70-8b93-2c4d5e6f7081"})
	req.URL.Path = "/api/v1/sessions"
	res, out := e.do(t, req)
	if res.StatusCode != http.StatusAccepted || strings.Count(out, "-") != 8 || len(e.pub.all()) != 2 {
		t.Fatalf("session: %d %s, %d published", res.StatusCode, out, len(e.pub.all()))
	}
	req = postJSON(body, map[string]string{IdempotencyKeyHeader: "5d3f8b2a-1c4e-4f70-8b93-2c4d5e6f7081"})
	req.URL.Path = "/api/v1/sessions"
	if res, again := e.do(t, req); res.StatusCode != http.StatusAccepted || again != out || len(e.pub.all()) != 2 {
		t.Errorf("retry: %d %s, %d published", res.StatusCode, again, len(e.pub.all()))
	}
	bad := strings.Replace(body, `"reps":90`, `"reps":900`, 1)
	req = postJSON(bad, nil)
	req.URL.Path = "/api/v1/sessions"
	if res, msg := e.do(t, req); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(msg, `"exercises[1].sets[0].reps"`) || len(e.pub.all()) != 2 {
		t.Errorf("invalid session: %d %s", res.StatusCode, msg)
	}
}
