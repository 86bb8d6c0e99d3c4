package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// fakeProfiles keeps profiles in memory; err fails every call.
type fakeProfiles struct {
	mu  sync.Mutex
	m   map[string]store.Profile
	err error
}

func (f *fakeProfiles) Get(ctx context.Context, user string) (store.Profile, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.m[user]
	if !ok {
		p = store.Profile{UserID: user}
	}
	return p, f.err
}

func (f *fakeProfiles) Save(ctx context.Context, p store.Profile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	p.UpdatedAt = now
	f.m[p.UserID] = p
	return nil
}

func newProfileEnv(t *testing.T, ws ...workout.Workout) (*env, *fakeProfiles) {
	t.Helper()
	fp := &fakeProfiles{m: map[string]store.Profile{}}
	e := &env{pub: &fakePublisher{}, rd: newFakeReader(ws...), reg: prometheus.NewRegistry()}
	srv, err := New(Options{Publisher: e.pub, Reader: e.rd, Profiles: fp, Auth: access.Dev{User: devUser}, Registry: e.reg,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e, fp
}

// A new user sees the onboarding card, sets lb, three days a week, a time
// zone and two starting sets: the profile is saved, the sets are logged
// as yesterday's workouts, and the plan starts from them in pounds.
func TestOnboarding(t *testing.T) {
	e, fp := newProfileEnv(t)
	if _, body := e.do(t, httptest.NewRequest(http.MethodGet, "/", nil)); !strings.Contains(body, `id="onboard"`) {
		t.Fatal("no onboarding card for a new user")
	}
	if _, body := e.do(t, httptest.NewRequest(http.MethodGet, "/settings", nil)); !strings.Contains(body, "Welcome") || !strings.Contains(body, `id="weight_back-squat"`) {
		t.Fatalf("settings page for a new user:\n%s", body)
	}
	form := formTo("/settings", formBody(map[string]string{"unit": "lb", "days_per_week": "3", "time_zone": "America/Chicago",
		"reps_back-squat": "5", "weight_back-squat": "315", "reps_pull-up": "8", "weight_pull-up": ""}))
	res, body := e.do(t, form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/?welcome=1" {
		t.Fatalf("save: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	if p := fp.m[devUser]; p.Unit != workout.Pounds || p.DaysPerWeek != 3 || p.TimeZone != "America/Chicago" {
		t.Errorf("saved %+v", p)
	}
	pub := e.pub.all()
	if len(pub) != 2 {
		t.Fatalf("published %d starting sets, want 2", len(pub))
	}
	for _, w := range pub {
		if w.Notes != startingNote || w.Unit != workout.Pounds || !w.PerformedAt.Before(now) || now.Sub(w.PerformedAt) > 48*time.Hour {
			t.Errorf("starting set %+v", w)
		}
	}
	// Sent again: the same workouts (same ids), nothing new in the view.
	e.do(t, formTo("/settings", formBody(map[string]string{"unit": "lb", "days_per_week": "3", "time_zone": "America/Chicago",
		"reps_back-squat": "5", "weight_back-squat": "315", "reps_pull-up": "8"})))
	if again := e.pub.all(); len(again) != 4 || again[2].ID != pub[0].ID {
		t.Errorf("a resent form logged other ids: %+v", again)
	}
	_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/?welcome=1", nil))
	if strings.Contains(body, `id="onboard"`) || !strings.Contains(body, "Settings saved") {
		t.Errorf("plan after onboarding still onboards, or no welcome")
	}
	// Yesterday's squat recovers today; its next prescription starts from
	// the starting set, in pounds.
	if _, body = e.do(t, httptest.NewRequest(http.MethodGet, "/log?exercise=back-squat", nil)); !strings.Contains(body, `id="weight_0" value="315"`) {
		t.Errorf("the squat's next prescription does not start at the starting set:\n%s", body)
	}
	if _, body = e.do(t, httptest.NewRequest(http.MethodGet, "/log", nil)); !strings.Contains(body, `<option value="lb" selected>`) {
		t.Errorf("log form does not preselect the profile's unit")
	}
}

func TestSettingsRefused(t *testing.T) {
	e, fp := newProfileEnv(t)
	tests := []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"no unit", map[string]string{"days_per_week": "3"}, "choose kg or lb"},
		{"days out of range", map[string]string{"unit": "kg", "days_per_week": "9"}, "choose from 2 to 6"},
		{"bad zone", map[string]string{"unit": "kg", "time_zone": "../etc/passwd"}, "use a time zone name"},
		{"reps not a number", map[string]string{"unit": "kg", "reps_deadlift": "five", "weight_deadlift": "140"}, "Deadlift reps: enter a whole number"},
		{"implausible load", map[string]string{"unit": "kg", "reps_deadlift": "5", "weight_deadlift": "900"}, "more than 600 kg"},
		{"loaded lift without weight", map[string]string{"unit": "kg", "reps_deadlift": "5"}, "required for a loaded exercise"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, formTo("/settings", formBody(tt.fields)))
			if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, tt.want) {
				t.Errorf("%d, want 422 saying %q:\n%s", res.StatusCode, tt.want, body)
			}
		})
	}
	if len(fp.m) != 0 || len(e.pub.all()) != 0 {
		t.Errorf("refused forms saved %v, published %d", fp.m, len(e.pub.all()))
	}
	req := formTo("/settings", formBody(map[string]string{"unit": "kg"}))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := e.do(t, req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site settings: %d", res.StatusCode)
	}
	fp.err = context.DeadlineExceeded
	if res, body := e.do(t, formTo("/settings", formBody(map[string]string{"unit": "kg", "reps_deadlift": "5", "weight_deadlift": "140"}))); res.StatusCode != http.StatusServiceUnavailable || len(e.pub.all()) != 0 || !strings.Contains(body, "not saved") {
		t.Errorf("database down: %d, published %d", res.StatusCode, len(e.pub.all()))
	}
}

// A user adds an exercise the catalogue lacks; the forms offer it under
// its group, logging it works and History names it; another user's custom
// key or too many reps for a reps exercise are refused.
func TestCustomExercise(t *testing.T) {
	e, fp := newProfileEnv(t)
	res, body := e.do(t, formTo("/settings", formBody(map[string]string{"unit": "kg",
		"custom_name": "Sled push", "custom_group": "legs", "custom_equipment": "machine", "custom_timed": "on"})))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", res.StatusCode, body)
	}
	if ex := fp.m[devUser].Exercises; len(ex) != 1 || ex[0].Key != "custom-sled-push" || !ex[0].Timed {
		t.Fatalf("saved %+v", ex)
	}
	e.do(t, formTo("/settings", formBody(map[string]string{"unit": "kg",
		"custom_name": "Nordic curl", "custom_group": "posterior", "custom_equipment": "bodyweight"})))
	if res, body = e.do(t, formTo("/settings", formBody(map[string]string{"unit": "kg",
		"custom_name": "sled PUSH", "custom_group": "legs", "custom_equipment": "machine"}))); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "you already have") {
		t.Errorf("duplicate: %d", res.StatusCode)
	}
	_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/log", nil))
	legs := body[strings.Index(body, `<optgroup label="Legs">`):]
	legs = legs[:strings.Index(legs, "</optgroup>")]
	if !strings.Contains(legs, `<option value="custom-sled-push">Sled push (machine)</option>`) {
		t.Errorf("log form's legs lack the custom exercise:\n%s", legs)
	}
	log := func(exercise, reps string) (*http.Response, string) {
		return e.do(t, postForm(formBody(map[string]string{"exercise": exercise, "date": now.Format(DateLayout), "tz": "UTC", "unit": "kg",
			"reps_0": reps, "idempotency_key": "7e2a4c6b-8d1f-4a3e-9b5c-0d2e4f6a8b1c"})))
	}
	if res, body = log("custom-sled-push", "45"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log custom: %d\n%s", res.StatusCode, body)
	}
	if _, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history", nil)); !strings.Contains(body, "<td>Sled push") {
		t.Errorf("history does not name the custom exercise")
	} else if !strings.Contains(body, "<td>1 × 45 s</td>") || strings.Contains(body, `aria-label="Edit custom-`) {
		t.Errorf("history does not count the timed custom exercise in seconds or labels it by key:\n%s", body[strings.Index(body, "<td>Sled push"):][:300])
	}
	// Records and charts know the user's own exercises.
	if _, body = e.do(t, httptest.NewRequest(http.MethodGet, "/records", nil)); !strings.Contains(body, "Sled push") || !strings.Contains(body, "Longest hold: 45 s") {
		t.Errorf("records page lacks the custom exercise's hold")
	}
	if res, _ = log("custom-someone-elses", "5"); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("another custom key: %d", res.StatusCode)
	}
	if res, body = log("custom-nordic-curl", "150"); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "between 1 and 100") {
		t.Errorf("150 reps of a reps exercise: %d", res.StatusCode)
	}
	if n := len(e.pub.all()); n != 1 {
		t.Errorf("published %d, want the sled push only", n)
	}
}
