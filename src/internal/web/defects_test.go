package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// TestPlanUnavailableWithoutHistory: when the history was never read (the
// first request after a restart with the database down), the app says the
// plan is unavailable instead of making a beginner's plan from nothing.
func TestPlanUnavailableWithoutHistory(t *testing.T) {
	e := newEnv(t, nil)
	e.rd.stale = true // and asOf zero: never read

	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `id="plan-unavailable"`) || strings.Contains(body, "start light") ||
		strings.Contains(body, `id="plan"`) {
		t.Errorf("plan page: %d, notice %v, beginner plan %v", res.StatusCode,
			strings.Contains(body, `id="plan-unavailable"`), strings.Contains(body, "start light"))
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/plan", nil))
	var out apiError
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || json.Unmarshal([]byte(body), &out) != nil || !strings.Contains(out.Error, "unavailable") {
		t.Errorf("plan API: %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/log?exercise=back-squat", nil))
	if res.StatusCode != 200 || strings.Contains(body, `id="weight_0" value="20"`) || !strings.Contains(body, `id="weight_0" value=""`) {
		t.Errorf("log form prefilled from no history: %d", res.StatusCode)
	}
	// Once read (even stale, even empty) the plan is made from what was read.
	e.rd.asOf = now.Add(-time.Minute)
	if _, body := e.do(t, httptest.NewRequest(http.MethodGet, "/", nil)); !strings.Contains(body, "start light") {
		t.Errorf("a user with no history after a read gets no starting plan")
	}
}

// TestLogFormPreselectsTheUsersUnit: the unit is the one of the user's
// latest workout, else the one they last logged with (a cookie), and none
// when neither is known (never silently kilograms).
func TestLogFormPreselectsTheUsersUnit(t *testing.T) {
	lb := sample(1, 2, "bench-press", 225, 5, 5, 5)
	lb.Unit = workout.Pounds
	tests := []struct {
		name   string
		ws     []workout.Workout
		stale  bool
		cookie string
		want   string
	}{
		{name: "from the latest workout", ws: []workout.Workout{sample(2, 9, "back-squat", 100, 5), lb}, want: `<option value="lb" selected>`},
		{name: "from the cookie when history is unknown", stale: true, cookie: "lb", want: `<option value="lb" selected>`},
		{name: "none when nothing is known", stale: true, want: `<option value="" selected>`},
		{name: "kilograms for a new user", want: `<option value="kg" selected>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil, tt.ws...)
			e.rd.stale = tt.stale
			req := httptest.NewRequest(http.MethodGet, "/log", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: unitCookie, Value: tt.cookie})
			}
			_, body := e.do(t, req)
			if !strings.Contains(body, tt.want) {
				t.Errorf("unit select does not have %s", tt.want)
			}
		})
	}
	t.Run("logging remembers the unit", func(t *testing.T) {
		e := newEnv(t, nil)
		res, _ := e.do(t, postForm(formBody(map[string]string{"exercise": "deadlift", "date": "2026-11-19", "unit": "lb", "reps_0": "5", "weight_0": "225"})))
		var got string
		for _, c := range res.Cookies() {
			if c.Name == unitCookie {
				got = c.Value
			}
		}
		if res.StatusCode != http.StatusSeeOther || got != "lb" {
			t.Errorf("status %d, unit cookie %q", res.StatusCode, got)
		}
	})
	t.Run("no unit chosen is an error, not kilograms", func(t *testing.T) {
		e := newEnv(t, nil)
		res, body := e.do(t, postForm(formBody(map[string]string{"exercise": "deadlift", "date": "2026-11-19", "reps_0": "5", "weight_0": "225"})))
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `id="unit-error"`) {
			t.Errorf("status %d", res.StatusCode)
		}
	})
}

// TestWorkoutLocation: the 202's Location is a resource that answers with
// the workout; an unknown id is a 404, and the list refuses parameters it
// does not support instead of ignoring them.
func TestWorkoutLocation(t *testing.T) {
	e := newEnv(t, nil, sample(1, 3, "back-squat", 100, 5, 5, 5))
	res, body := e.do(t, postJSON(validBody, nil))
	loc := res.Header.Get("Location")
	if res.StatusCode != 202 || loc == "" {
		t.Fatalf("post: %d %q %s", res.StatusCode, loc, body)
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, loc, nil))
	var got struct {
		Workout workout.Workout `json:"workout"`
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil || !strings.HasSuffix(loc, got.Workout.ID) || got.Workout.Exercise != "back-squat" {
		t.Errorf("GET %s: %d %s", loc, res.StatusCode, body)
	}
	for path, want := range map[string]int{
		"/api/v1/workouts/0e4b7c1a-1111-4222-8333-444455556666":    404,
		"/api/v1/workouts/not-a-uuid":                              400,
		"/api/v1/workouts?id=0e4b7c1a-1111-4222-8333-444455556666": 400,
	} {
		res, body := e.do(t, httptest.NewRequest(http.MethodGet, path, nil))
		if res.StatusCode != want || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s: %d, want %d: %s", path, res.StatusCode, want, body)
		}
	}
}

// TestIdempotencyKeyReuse: the same key with the same body is the same
// workout (202, same id); with a different body it is refused with 422.
func TestIdempotencyKeyReuse(t *testing.T) {
	const key = "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a"
	hdr := map[string]string{IdempotencyKeyHeader: key}
	e := newEnv(t, nil)
	for i := range 2 {
		if res, body := e.do(t, postJSON(validBody, hdr)); res.StatusCode != 202 || !strings.Contains(body, key) {
			t.Fatalf("post %d: %d %s", i, res.StatusCode, body)
		}
	}
	other := strings.Replace(validBody, `"weight":100}]`, `"weight":110}]`, 1)
	res, body := e.do(t, postJSON(other, hdr))
	var out apiError
	if res.StatusCode != http.StatusUnprocessableEntity || json.Unmarshal([]byte(body), &out) != nil || !strings.Contains(out.Error, IdempotencyKeyHeader) {
		t.Errorf("reused key, other body: %d %s", res.StatusCode, body)
	}
	for _, w := range e.pub.all() {
		if w.Sets[1].Weight != 100 {
			t.Errorf("published the second body: %+v", w)
		}
	}

	t.Run("form", func(t *testing.T) {
		e := newEnv(t, nil)
		form := map[string]string{"exercise": "deadlift", "date": "2026-11-19", "unit": "kg", "reps_0": "5", "weight_0": "140", "idempotency_key": key}
		if res, _ := e.do(t, postForm(formBody(form))); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("first: %d", res.StatusCode)
		}
		if res, _ := e.do(t, postForm(formBody(form))); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("same form again: %d", res.StatusCode)
		}
		form["weight_0"] = "150"
		res, body := e.do(t, postForm(formBody(form)))
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "already logged") || strings.Contains(body, `value="`+key+`"`) {
			t.Errorf("edited form with the same id: %d", res.StatusCode)
		}
		if n := len(e.pub.all()); n != 1 {
			t.Errorf("published %d, want 1", n)
		}
	})
}

// TestNotesCountCharacters: 500 characters of any script are accepted from
// the form, including line breaks the browser sends as CRLF but counts as
// one, as its maxlength does.
func TestNotesCountCharacters(t *testing.T) {
	e := newEnv(t, nil)
	notes := strings.Repeat("ü", 250) + strings.Repeat("\r\nx", 125)
	res, body := e.do(t, postForm(formBody(map[string]string{"exercise": "deadlift", "date": "2026-11-19", "unit": "kg", "reps_0": "5", "weight_0": "140", "notes": notes})))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	if got := e.pub.all()[0].Notes; strings.Contains(got, "\r") {
		t.Errorf("stored notes keep CRLF: %q", got[:20])
	}
	_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/log", nil))
	if !strings.Contains(body, `maxlength="500"`) {
		t.Error("notes field has no maxlength of 500")
	}
}

// TestErrorsAreJSON: the API's cross-origin refusal is JSON like every
// other API error; a page's is an HTML page.
func TestErrorsAreJSON(t *testing.T) {
	e := newEnv(t, nil)
	req := postJSON(validBody, map[string]string{"Sec-Fetch-Site": "cross-site"})
	res, body := e.do(t, req)
	var out apiError
	if res.StatusCode != 403 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &out) != nil || out.Error == "" {
		t.Errorf("API cross-origin: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res, body = e.do(t, postJSON(`{"exercise":"back-squat","performed_at":"2026-11-20","unit":"kg","sets":[{"reps":5,"weight":100}]}`, nil))
	if res.StatusCode != 400 || !strings.Contains(body, `"performed_at":"use an RFC 3339`) || strings.Contains(body, "parsing time") {
		t.Errorf("date-only performed_at: %d %s", res.StatusCode, body)
	}
}

// TestUsersTimeZone: "today" is the user's day, from the browser's time
// zone (a cookie for pages, a hidden field in the log form); without one
// the server leaves the date for the browser to fill instead of using UTC.
func TestUsersTimeZone(t *testing.T) {
	// 21:30 on Friday 20 November in New York is already Saturday in UTC.
	evening := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)
	e := newEnv(t, access.Dev{User: devUser})
	e.srv.opts.Now = func() time.Time { return evening }
	ny := &http.Cookie{Name: tzCookie, Value: "America/New_York"}

	req := httptest.NewRequest(http.MethodGet, "/log", nil)
	req.AddCookie(ny)
	if _, body := e.do(t, req); !strings.Contains(body, `id="date" name="date" value="2026-11-20"`) {
		t.Errorf("form date is not New York's today")
	}
	if _, body := e.do(t, httptest.NewRequest(http.MethodGet, "/log", nil)); !strings.Contains(body, `id="date" name="date" value=""`) {
		t.Errorf("form date invented without a time zone")
	}
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(ny)
	if _, body := e.do(t, req); !strings.Contains(body, "Today, Fri 20 Nov 2026") {
		t.Errorf("plan page is not for New York's today")
	}
	req = httptest.NewRequest(http.MethodGet, "/api/v1/plan", nil)
	req.AddCookie(ny)
	if _, body := e.do(t, req); !strings.Contains(body, `"date":"2026-11-20"`) {
		t.Errorf("plan API: %s", body)
	}
	res, _ := e.do(t, postForm(formBody(map[string]string{"exercise": "deadlift", "date": "2026-11-20", "tz": "America/New_York", "unit": "kg", "reps_0": "5", "weight_0": "140"})))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("post: %d", res.StatusCode)
	}
	if got := e.pub.all()[0].PerformedAt; !got.Equal(evening.Truncate(time.Second)) {
		t.Errorf("today's workout performed at %v, want now (%v)", got, evening)
	}
}

func TestLocation(t *testing.T) {
	for name, ok := range map[string]bool{
		"America/New_York": true, "UTC": true, "Etc/GMT+5": true, "Asia/Kolkata": true,
		"": false, "Local": false, "../etc/passwd": false, "/etc/localtime": false, "Mars/Olympus": false,
		"America/New York": false, strings.Repeat("A", 65): false,
	} {
		if got := location(name) != nil; got != ok {
			t.Errorf("location(%q) known = %v, want %v", name, got, ok)
		}
	}
}

func TestAPIPlanTimeZoneParameter(t *testing.T) {
	evening := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)
	e := newEnv(t, nil)
	e.srv.opts.Now = func() time.Time { return evening }
	if res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/plan?tz=America/New_York", nil)); res.StatusCode != 200 || !strings.Contains(body, `"date":"2026-11-20"`) {
		t.Errorf("?tz=America/New_York: %d %s", res.StatusCode, body)
	}
	if res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/plan?tz=Local", nil)); res.StatusCode != 400 || !strings.Contains(body, `"tz"`) {
		t.Errorf("?tz=Local: %d %s", res.StatusCode, body)
	}
}
