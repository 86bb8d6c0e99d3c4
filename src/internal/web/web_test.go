package web

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

const devUser = "dev@localhost"

var now = time.Date(2026, 11, 20, 18, 30, 0, 0, time.UTC)

type env struct {
	srv *Server
	pub *fakePublisher
	rd  *fakeReader
	reg *prometheus.Registry
}

func newEnv(t testing.TB, auth access.Authenticator, ws ...workout.Workout) *env {
	t.Helper()
	e := &env{pub: &fakePublisher{}, rd: newFakeReader(ws...), reg: prometheus.NewRegistry()}
	if auth == nil {
		auth = access.Dev{User: devUser}
	}
	srv, err := New(Options{
		Publisher: e.pub, Reader: e.rd, Auth: auth, Dev: auth == access.Authenticator(access.Dev{User: devUser}),
		Registry: e.reg, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	return e
}

func (e *env) do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func sample(id int, daysAgo int, exercise string, weight float64, reps ...int) workout.Workout {
	w := workout.Workout{
		ID:          fmt.Sprintf("00000000-0000-4000-8000-%012d", id),
		UserID:      devUser,
		Exercise:    exercise,
		PerformedAt: now.AddDate(0, 0, -daysAgo),
		Unit:        workout.Kilograms,
	}
	for _, r := range reps {
		w.Sets = append(w.Sets, workout.Set{Reps: r, Weight: weight})
	}
	w.LoggedAt = w.PerformedAt
	return w
}

func TestPagesRender(t *testing.T) {
	e := newEnv(t, nil,
		sample(1, 12, "back-squat", 95, 5, 5, 5),
		sample(2, 5, "back-squat", 100, 5, 5, 5),
		sample(3, 4, "bench-press", 70, 5, 5, 3),
		sample(4, 3, "pull-up", 0, 6, 6, 5),
	)
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"DEVELOPMENT MODE", "Back squat", "3 × 5", "102.5 kg", "completed 3×5 at 100 kg", "Muscle groups"}},
		{"/log", []string{`name="idempotency_key"`, `<option value="deadlift">Deadlift (barbell)</option>`, `name="reps_0"`}},
		{"/log?exercise=bench-press&unit=lb", []string{`<option value="bench-press" selected>`, `<option value="lb" selected>`}},
		{"/log?exercise=back-squat", []string{`name="reps_2" id="reps_2" value="5"`, `name="weight_2" id="weight_2" value="102.5"`, "Prefilled with today&#39;s prescription: completed 3×5"}},
		{"/log?exercise=pull-up", []string{`name="reps_2" id="reps_2" value="6"`, `name="weight_0" id="weight_0" value=""`}},
		{"/history", []string{"3 × 5 @ 100 kg", "5 @ 70 kg, 5 @ 70 kg, 3 @ 70 kg", "bodyweight"}},
		{"/history?exercise=bench-press", []string{"bench-press"}},
		{"/progress", []string{`data-exercise="back-squat"`, "<polyline", "<circle", "<rect class=\"bar\"", "Estimated 1RM (kg)", "Weekly reps"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := e.do(t, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page does not contain %q", w)
				}
			}
			// CSP without unsafe-inline: nothing inline may be needed; the
			// one script is a file of this origin.
			if strings.Count(body, "<script") != strings.Count(body, `<script src="/static/tz.js" defer></script>`) {
				t.Errorf("page has an inline script")
			}
			for _, bad := range []string{"style=", "<style", "javascript:", " on"} {
				if bad == " on" {
					if strings.Contains(body, " onclick=") || strings.Contains(body, " onload=") {
						t.Errorf("page has an inline event handler")
					}
					continue
				}
				if strings.Contains(body, bad) {
					t.Errorf("page contains %q, which the CSP forbids", bad)
				}
			}
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy || strings.Contains(got, "unsafe-inline") {
				t.Errorf("CSP = %q", got)
			}
		})
	}
	if q := e.rd.lastQuery(); q.Exercise != "" || q.Limit != 0 {
		t.Errorf("progress read %+v, want the full history", q)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, nil)
	res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/", nil))
	want := map[string]string{
		"Strict-Transport-Security":    "max-age=63072000; includeSubDomains; preload",
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Referrer-Policy":              "no-referrer",
	}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q lacks frame-ancestors 'none'", csp)
	}
	if res.Header.Get(RequestIDHeader) == "" {
		t.Error("no request id")
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "edge-1234")
	if res, _ := e.do(t, req); res.Header.Get(RequestIDHeader) != "edge-1234" {
		t.Errorf("request id %q, want the proxy's", res.Header.Get(RequestIDHeader))
	}
	for _, bad := range []string{"two words", "<script>", strings.Repeat("x", 65)} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(RequestIDHeader, bad)
		if res, _ := e.do(t, req); res.Header.Get(RequestIDHeader) == bad || !validRequestID(res.Header.Get(RequestIDHeader)) {
			t.Errorf("malformed request id %q kept as %q", bad, res.Header.Get(RequestIDHeader))
		}
	}
	res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/static/app.css", nil))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ".chart-svg") {
		t.Errorf("stylesheet: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func TestAccessRequired(t *testing.T) {
	v, err := access.NewVerifier(access.Config{TeamDomain: "homelab.cloudflareaccess.com", Audience: "aud",
		CertsURL: "http://127.0.0.1:1/certs"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, v)
	paths := []string{"/", "/log", "/history", "/progress", "/static/app.css", "/api/v1/plan", "/api/v1/workouts", "/api/v1/openapi.yaml", "/no-such-page"}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			res, body := e.do(t, httptest.NewRequest(http.MethodGet, p, nil))
			if res.StatusCode != http.StatusUnauthorized || body != "unauthorized\n" {
				t.Errorf("no token: %d %q", res.StatusCode, body)
			}
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set(access.Header, "e30.e30.c2ln")
			res, body = e.do(t, req)
			if res.StatusCode != http.StatusForbidden || body != "forbidden\n" {
				t.Errorf("bad token: %d %q", res.StatusCode, body)
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/workouts", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if res, _ := e.do(t, req); res.StatusCode != http.StatusUnauthorized || len(e.pub.all()) != 0 {
		t.Errorf("unauthenticated POST: %d, published %d", res.StatusCode, len(e.pub.all()))
	}
	if got := testutil.ToFloat64(e.srv.metrics.authRejected.WithLabelValues("missing")); got != float64(len(paths)+1) {
		t.Errorf("missing-token rejections = %v", got)
	}
}

func TestProbes(t *testing.T) {
	v, err := access.NewVerifier(access.Config{TeamDomain: "t", Audience: "a", CertsURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, v)
	if res, body := e.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil)); res.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
	if res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/readyz", nil)); res.StatusCode != 200 {
		t.Errorf("readyz with a connected publisher: %d", res.StatusCode)
	}
	e.pub.notReady = true
	if res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/readyz", nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz without a broker: %d", res.StatusCode)
	}
}

func postJSON(body string, header map[string]string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/workouts", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

const validBody = `{"exercise":"back-squat","performed_at":"2026-11-20T17:00:00Z","unit":"kg","sets":[{"reps":5,"weight":100},{"reps":5,"weight":100}]}`

func TestAPIPostWorkout(t *testing.T) {
	const key = "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a"
	tests := []struct {
		name       string
		body       string
		header     map[string]string
		brokerErr  error
		status     int
		wantInBody string
		wantID     string
	}{
		{name: "accepted with a new id", body: validBody, status: 202, wantInBody: `"id":"`},
		{name: "idempotency key is the id", body: validBody, header: map[string]string{IdempotencyKeyHeader: strings.ToUpper(key)}, status: 202, wantID: key},
		{name: "body id is the id", body: strings.Replace(validBody, `{`, `{"id":"`+key+`",`, 1), status: 202, wantID: key},
		{name: "body id and key differ", body: strings.Replace(validBody, `{`, `{"id":"`+key+`",`, 1),
			header: map[string]string{IdempotencyKeyHeader: "0e4b7c1a-1111-4222-8333-444455556666"}, status: 400, wantInBody: "differs"},
		{name: "bad key", body: validBody, header: map[string]string{IdempotencyKeyHeader: "retry-1"}, status: 400, wantInBody: "must be a UUID"},
		{name: "someone else's user id", body: strings.Replace(validBody, `{`, `{"user_id":"eve@example.com",`, 1), status: 403},
		{name: "own user id", body: strings.Replace(validBody, `{`, `{"user_id":"dev@localhost",`, 1), status: 202},
		{name: "unknown field", body: strings.Replace(validBody, `{`, `{"admin":true,`, 1), status: 400, wantInBody: "unknown field"},
		{name: "trailing data", body: validBody + `{}`, status: 400},
		{name: "invalid fields", body: `{"exercise":"squat","performed_at":"2026-11-20T17:00:00Z","unit":"stone","sets":[{"reps":0,"weight":100}]}`,
			status: 422, wantInBody: `"sets[0].reps":"must be between 1 and 100"`},
		{name: "too large", body: `{"notes":"` + strings.Repeat("x", workout.MaxBodyBytes) + `"}`, status: 413},
		{name: "wrong content type", body: validBody, header: map[string]string{"Content-Type": "text/plain"}, status: 415},
		{name: "broker down", body: validBody, brokerErr: errBrokerDown, status: 503, wantInBody: "not confirmed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.pub.err = tt.brokerErr
			res, body := e.do(t, postJSON(tt.body, tt.header))
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if tt.wantInBody != "" && !strings.Contains(body, tt.wantInBody) {
				t.Errorf("body %s does not contain %s", body, tt.wantInBody)
			}
			pub := e.pub.all()
			switch tt.status {
			case 202:
				if len(pub) != 1 {
					t.Fatalf("published %d, want 1", len(pub))
				}
				w := pub[0]
				if !strings.Contains(body, `"id":"`+w.ID+`"`) || w.UserID != devUser || !w.LoggedAt.Equal(now) {
					t.Errorf("published %+v, answered %s", w, body)
				}
				if tt.wantID != "" && w.ID != tt.wantID {
					t.Errorf("id = %s, want %s", w.ID, tt.wantID)
				}
				if err := w.Validate(now); err != nil {
					t.Errorf("published an invalid workout: %v", err)
				}
			case 503:
				if res.Header.Get("Retry-After") != "5" {
					t.Errorf("Retry-After = %q", res.Header.Get("Retry-After"))
				}
			default:
				if len(pub) != 0 {
					t.Errorf("published %d workouts for a refused request", len(pub))
				}
			}
		})
	}
}

func TestAPIPostThenRead(t *testing.T) {
	e := newEnv(t, nil)
	res, body := e.do(t, postJSON(validBody, nil))
	if res.StatusCode != 202 {
		t.Fatalf("post: %d %s", res.StatusCode, body)
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/workouts?exercise=back-squat&from=2026-11-20&to=2026-11-20", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `"exercise":"back-squat"`) || !strings.Contains(body, `"stale":false`) {
		t.Errorf("list: %d %s", res.StatusCode, body)
	}
	q := e.rd.lastQuery()
	if q.Exercise != "back-squat" || !q.From.Equal(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)) || !q.To.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) || q.Limit != 200 {
		t.Errorf("query = %+v", q)
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/plan", nil))
	if res.StatusCode != 200 || !strings.Contains(body, `"date":"2026-11-20"`) || !strings.Contains(body, `"reason":"`) {
		t.Errorf("plan: %d %s", res.StatusCode, body)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?from=yesterday", "?exercise=curl", "?from=2026-11-20&to=2026-11-01"} {
		if res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/workouts"+bad, nil)); res.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", bad, res.StatusCode)
		}
	}
	res, body = e.do(t, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.yaml", nil))
	if res.StatusCode != 200 || !strings.HasPrefix(body, "openapi: 3.1.0") {
		t.Errorf("spec: %d", res.StatusCode)
	}
	if got := testutil.ToFloat64(e.srv.metrics.published.WithLabelValues("confirmed")); got != 1 {
		t.Errorf("confirmed = %v", got)
	}
}

func formBody(values map[string]string) string {
	v := url.Values{}
	for k, x := range values {
		v.Set(k, x)
	}
	return v.Encode()
}

func postForm(body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/log", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com") // httptest's Host
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return req
}

func TestLogForm(t *testing.T) {
	const key = "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a"
	valid := map[string]string{"exercise": "deadlift", "date": "2026-11-19", "unit": "kg",
		"reps_0": "5", "weight_0": "140", "reps_2": "5", "weight_2": "142,5", "idempotency_key": key}

	t.Run("valid redirects to history", func(t *testing.T) {
		e := newEnv(t, nil)
		res, body := e.do(t, postForm(formBody(valid)))
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/history?logged="+key {
			t.Fatalf("%d %s %s", res.StatusCode, res.Header.Get("Location"), body)
		}
		pub := e.pub.all()
		if len(pub) != 1 || pub[0].ID != key || len(pub[0].Sets) != 2 || pub[0].Sets[1].Weight != 142.5 {
			t.Fatalf("published %+v", pub)
		}
		_, body = e.do(t, httptest.NewRequest(http.MethodGet, "/history?logged="+key, nil))
		if !strings.Contains(body, `data-id="`+key+`" class="just-logged"`) || !strings.Contains(body, "confirmed") {
			t.Errorf("history does not show the logged workout")
		}
	})

	t.Run("field errors", func(t *testing.T) {
		e := newEnv(t, nil)
		bad := map[string]string{"exercise": "deadlift", "date": "19/11/2026", "unit": "kg",
			"reps_0": "five", "weight_0": "140", "reps_1": "5", "weight_1": "0", "idempotency_key": key}
		res, body := e.do(t, postForm(formBody(bad)))
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", res.StatusCode)
		}
		for _, want := range []string{
			`id="date-error">use the format YYYY-MM-DD`,
			`id="reps-error_0">Set 1 reps: enter a whole number of reps`,
			`id="weight-error_1">Set 2 weight: is required for a loaded exercise`,
			`value="five"`, `value="` + key + `"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("form does not show %q", want)
			}
		}
		if len(e.pub.all()) != 0 {
			t.Error("published an invalid workout")
		}
	})

	t.Run("broker down keeps the form and its id", func(t *testing.T) {
		e := newEnv(t, nil)
		e.pub.err = errBrokerDown
		res, body := e.do(t, postForm(formBody(valid)))
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" {
			t.Fatalf("status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, "not logged yet") || !strings.Contains(body, `value="`+key+`"`) || !strings.Contains(body, `value="142,5"`) {
			t.Errorf("form lost what was typed: %s", body)
		}
	})
}

func TestCrossOriginPostsRefused(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		ctype   string
		body    string
		headers map[string]string
	}{
		{"form from another site", "/log", "application/x-www-form-urlencoded", "exercise=deadlift", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"form from another origin (old browser)", "/log", "application/x-www-form-urlencoded", "exercise=deadlift", map[string]string{"Origin": "https://evil.example"}},
		{"api from another site", "/api/v1/workouts", "application/json", validBody, map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			req := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, _ := e.do(t, req)
			if res.StatusCode != http.StatusForbidden || len(e.pub.all()) != 0 {
				t.Errorf("status %d, published %d", res.StatusCode, len(e.pub.all()))
			}
		})
	}
}

func TestStalePages(t *testing.T) {
	e := newEnv(t, nil, sample(1, 3, "back-squat", 100, 5, 5, 5))
	e.rd.stale = true
	e.rd.asOf = now.Add(-time.Minute)
	for _, p := range []string{"/", "/history", "/progress", "/api/v1/plan", "/api/v1/workouts"} {
		t.Run(p, func(t *testing.T) {
			res, body := e.do(t, httptest.NewRequest(http.MethodGet, p, nil))
			if res.StatusCode != 200 || res.Header.Get(StaleHeader) != "true" {
				t.Errorf("status %d, stale header %q", res.StatusCode, res.Header.Get(StaleHeader))
			}
			if !strings.HasPrefix(p, "/api") && !strings.Contains(body, "showing the last data read at 18:29:00 UTC") {
				t.Errorf("no stale banner")
			}
			if strings.HasPrefix(p, "/api") && !strings.Contains(body, `"stale":true`) {
				t.Errorf("no stale flag: %s", body)
			}
		})
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	e := newEnv(t, nil)
	if res, _ := e.do(t, httptest.NewRequest(http.MethodGet, "/nope", nil)); res.StatusCode != 404 {
		t.Errorf("404 page: %d", res.StatusCode)
	}
	if res, body := e.do(t, httptest.NewRequest(http.MethodDelete, "/api/v1/workouts", nil)); res.StatusCode != 405 || !strings.Contains(body, `"error"`) {
		t.Errorf("405: %d %s", res.StatusCode, body)
	}
	if got := testutil.ToFloat64(e.srv.metrics.requests.WithLabelValues("/api/v1/workouts", "DELETE", "4xx")); got != 0 {
		// Method-not-allowed requests match no route.
		t.Errorf("a refused method was counted under the route")
	}
}

// TestPublishTimeoutAnswers503: the server hands its PublishTimeout to the
// publisher with every workout, and a confirm that does not come within it
// is answered 503 with Retry-After, nothing remembered as confirmed.
func TestPublishTimeoutAnswers503(t *testing.T) {
	pub := &fakePublisher{stall: true}
	srv, err := New(Options{Publisher: pub, Reader: newFakeReader(), Auth: access.Dev{User: devUser}, Dev: true,
		Now: func() time.Time { return now }, PublishTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, pub: pub}
	const key = "6f1c0a3e-2b7d-4c55-9a1e-0d8f3b2c4e5a"
	res, body := e.do(t, postJSON(validBody, map[string]string{IdempotencyKeyHeader: key}))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" {
		t.Fatalf("stalled confirm: %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	pub.mu.Lock()
	timeouts := append([]time.Duration(nil), pub.timeouts...)
	pub.stall = false
	pub.mu.Unlock()
	if len(timeouts) != 1 || timeouts[0] != 20*time.Millisecond {
		t.Errorf("publisher given timeouts %v, want [20ms]", timeouts)
	}
	// The retry with the same key is published again, not answered from
	// the idempotency cache: the first was never confirmed.
	if res, body := e.do(t, postJSON(validBody, map[string]string{IdempotencyKeyHeader: key})); res.StatusCode != http.StatusAccepted || len(pub.all()) != 1 {
		t.Errorf("retry after a timeout: %d, %d published: %s", res.StatusCode, len(pub.all()), body)
	}
}
