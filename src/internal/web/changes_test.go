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

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClockEnv(t *testing.T, c *testClock, ws ...workout.Workout) *env {
	t.Helper()
	e := &env{pub: &fakePublisher{}, rd: newFakeReader(ws...), reg: prometheus.NewRegistry()}
	srv, err := New(Options{Publisher: e.pub, Reader: e.rd, Auth: access.Dev{User: devUser}, Registry: e.reg, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

func formTo(path, body string) *http.Request {
	req := postForm(body)
	req.URL.Path = path
	return req
}

// The pages edit, delete and restore a workout through the publisher:
// each change is a new version of the same workout.
func TestEditDeleteUndoPages(t *testing.T) {
	c := &testClock{t: now}
	w := sample(1, 2, "back-squat", 100, 5, 5, 5)
	w.Sets[0].RPE = 8
	e := newClockEnv(t, c, w, sample(2, 1, "bench-press", 60, 5))

	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/workouts/"+w.ID+"/edit", nil))
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `action="/workouts/`+w.ID+`/edit"`) ||
		!strings.Contains(body, `id="weight_0" value="100"`) || !strings.Contains(body, `id="rpe_0" value="8"`) {
		t.Fatalf("edit form: %d\n%s", res.StatusCode, body)
	}
	date := w.PerformedAt.UTC().Format(DateLayout)
	res, body = e.do(t, formTo("/workouts/"+w.ID+"/edit", formBody(map[string]string{
		"exercise": "back-squat", "date": date, "tz": "UTC", "unit": "kg",
		"reps_0": "5", "weight_0": "105", "reps_1": "4", "weight_1": "105", "notes": "felt strong",
	})))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/history?edited="+w.ID {
		t.Fatalf("edit submit: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	pub := e.pub.all()
	if len(pub) != 1 {
		t.Fatalf("published %d, want the edit", len(pub))
	}
	ed := pub[0]
	if ed.ID != w.ID || ed.Version != now.UnixMilli() || ed.Deleted || len(ed.Sets) != 2 || ed.Sets[0].Weight != 105 ||
		!ed.PerformedAt.Equal(w.PerformedAt) || !ed.LoggedAt.Equal(w.LoggedAt) || ed.Notes != "felt strong" {
		t.Fatalf("edit published %+v", ed)
	}

	c.Add(time.Minute)
	res, _ = e.do(t, formTo("/workouts/"+w.ID+"/delete", ""))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/history?deleted="+w.ID {
		t.Fatalf("delete: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	del := e.pub.all()[1]
	if !del.Deleted || del.Version <= ed.Version || del.Sets[0].Weight != 105 {
		t.Fatalf("delete published %+v", del)
	}
	// A second click publishes nothing more.
	if res, _ = e.do(t, formTo("/workouts/"+w.ID+"/delete", "")); res.StatusCode != http.StatusSeeOther || len(e.pub.all()) != 2 {
		t.Fatalf("second delete: %d, %d published", res.StatusCode, len(e.pub.all()))
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history?deleted="+w.ID, nil))
	if !strings.Contains(body, "Workout deleted") || !strings.Contains(body, `action="/workouts/`+w.ID+`/undo"`) ||
		strings.Contains(body, `<tr data-id="`+w.ID+`"`) {
		t.Fatalf("history after delete: %d\n%s", res.StatusCode, body)
	}

	c.Add(UndoWindow - 2*time.Minute)
	res, _ = e.do(t, formTo("/workouts/"+w.ID+"/undo", ""))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/history?restored="+w.ID {
		t.Fatalf("undo: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	undo := e.pub.all()[2]
	if undo.Deleted || undo.Version <= del.Version || undo.Sets[0].Weight != 105 {
		t.Fatalf("undo published %+v", undo)
	}
	if _, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history", nil)); !strings.Contains(body, `<tr data-id="`+w.ID+`"`) {
		t.Fatalf("restored workout not listed:\n%s", body)
	}
}

func TestUndoWindow(t *testing.T) {
	c := &testClock{t: now}
	w := sample(1, 2, "deadlift", 140, 3)
	e := newClockEnv(t, c, w)
	req := httptest.NewRequest(http.MethodDelete, "/api/v1/workouts/"+w.ID, nil)
	if res, body := e.do(t, req); res.StatusCode != http.StatusAccepted || !strings.Contains(body, `"undo_until"`) {
		t.Fatalf("delete: %d %s", res.StatusCode, body)
	}
	c.Add(UndoWindow + time.Second)
	if _, body := e.do(t, httptest.NewRequest(http.MethodGet, "/history", nil)); strings.Contains(body, `id="deleted"`) {
		t.Error("history offers an undo after the window")
	}
	undo := httptest.NewRequest(http.MethodPost, "/api/v1/workouts/"+w.ID+"/undo", nil)
	undo.Header.Set("Sec-Fetch-Site", "same-origin")
	if res, body := e.do(t, undo); res.StatusCode != http.StatusConflict {
		t.Errorf("undo after the window: %d %s, want 409", res.StatusCode, body)
	}
	if n := len(e.pub.all()); n != 1 {
		t.Errorf("published %d, want only the delete", n)
	}
}

// A user can change only their own workouts, only from this site's pages,
// and not with a body that names another id or the server's fields.
func TestChangesRefused(t *testing.T) {
	other := sample(1, 2, "deadlift", 140, 3)
	other.UserID = "someone@else"
	mine := sample(2, 2, "deadlift", 140, 3)
	e := newEnv(t, nil, other, mine)
	put := func(id, body string, header map[string]string) *http.Request {
		req := httptest.NewRequest(http.MethodPut, "/api/v1/workouts/"+id, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return req
	}
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"edit another user's workout", put(other.ID, validBody, nil), http.StatusNotFound},
		{"delete another user's workout", httptest.NewRequest(http.MethodDelete, "/api/v1/workouts/"+other.ID, nil), http.StatusNotFound},
		{"edit page of another user's workout", httptest.NewRequest(http.MethodGet, "/workouts/"+other.ID+"/edit", nil), http.StatusNotFound},
		{"delete form of another user's workout", formTo("/workouts/"+other.ID+"/delete", ""), http.StatusNotFound},
		{"body names another id", put(mine.ID, strings.Replace(validBody, "{", `{"id":"`+other.ID+`",`, 1), nil), http.StatusBadRequest},
		{"body sets the version", put(mine.ID, strings.Replace(validBody, "{", `{"version":99999999999999,`, 1), nil), http.StatusBadRequest},
		{"stale If-Match", put(mine.ID, validBody, map[string]string{"If-Match": `"12"`}), http.StatusPreconditionFailed},
		{"not a uuid", put("123", validBody, nil), http.StatusBadRequest},
		{"not json", put(mine.ID, "exercise=deadlift", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), http.StatusUnsupportedMediaType},
		{"cross-site delete", func() *http.Request {
			r := httptest.NewRequest(http.MethodDelete, "/api/v1/workouts/"+mine.ID, nil)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}(), http.StatusForbidden},
		{"cross-site delete form", func() *http.Request {
			r := formTo("/workouts/"+mine.ID+"/delete", "")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}(), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.req)
			if res.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", res.StatusCode, tt.want, body)
			}
		})
	}
	if n := len(e.pub.all()); n != 0 {
		t.Errorf("published %d changes, want none", n)
	}
}
