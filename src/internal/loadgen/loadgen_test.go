package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadIsOpenLoop serves every third POST slowly: the load still sends
// at its rate, records every answer with the id it sent, and Stop waits for
// the slow ones.
func TestLoadIsOpenLoop(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.ID == "" || r.URL.Path != "/api/v1/workouts" {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		if n.Add(1)%3 == 0 {
			time.Sleep(300 * time.Millisecond)
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	l := Start(context.Background(), Config{URL: srv.URL, Rate: 200})
	time.Sleep(time.Second)
	res := l.Stop()
	if got := len(res.Answers); got < 170 || got > 230 {
		t.Fatalf("%d requests in 1 s at 200/s", got)
	}
	seen := map[string]bool{}
	for _, a := range res.Answers {
		if a.Violation() != "" {
			t.Fatalf("violation: %s", a.Violation())
		}
		if seen[a.ID] {
			t.Fatalf("id %s sent twice", a.ID)
		}
		seen[a.ID] = true
	}
	if got, want := len(res.AcceptedIDs()), len(res.Answers)-len(res.Answers)/3; got < want-2 || got > want+2 {
		t.Errorf("%d accepted of %d, want about %d", got, len(res.Answers), want)
	}
}

func TestViolation(t *testing.T) {
	tests := []struct {
		a    Answer
		want string
	}{
		{Answer{Status: 202}, ""},
		{Answer{Status: 503, RetryAfter: true}, ""},
		{Answer{Status: 422}, ""},
		{Answer{Status: 503}, "503 without Retry-After"},
		{Answer{Status: 500}, "status 500"},
		{Answer{Err: errors.New("timeout")}, "no answer: timeout"},
	}
	for _, tt := range tests {
		if got := tt.a.Violation(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.a, got, tt.want)
		}
	}
}

// TestSummarize builds 10 s of answers at 10/s: 4 s fine, then 2 s of 503s
// (with one 202 in the middle), then a slow second at half rate, then fine.
func TestSummarize(t *testing.T) {
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var res Result
	for i := range 100 {
		sent := start.Add(time.Duration(i) * 100 * time.Millisecond)
		a := Answer{ID: string(rune('a'+i%26)) + strings.Repeat("x", i), Sent: sent, Answered: sent.Add(10 * time.Millisecond), Status: 202}
		switch sec := i / 10; {
		case sec == 4 || sec == 5:
			if i != 45 {
				a.Status, a.RetryAfter = 503, true
			}
		case sec == 6 && i%2 == 0:
			a.Status, a.RetryAfter = 503, true
		}
		res.Answers = append(res.Answers, a)
	}
	stored := map[string]bool{}
	for _, id := range res.AcceptedIDs() {
		stored[id] = true
	}
	lostID := res.Answers[0].ID
	delete(stored, lostID)
	audit := Audit{Stored: stored, Extra: map[string]int{res.Answers[1].ID: 1}}
	s := res.Summarize("test", start, start.Add(4*time.Second), start.Add(10*time.Second), audit)
	if s.Sent != 100 || s.Accepted != 76 || s.Unavailable != 24 || s.Violations != 0 {
		t.Errorf("counts %+v", s)
	}
	if s.Stored != 75 || s.Lost != 1 || s.Duplicates != 1 {
		t.Errorf("audit figures %+v", s)
	}
	// The longest run is sent from 4.6 s to 6.0 s (the 503 of second 6's
	// first request), plus the last answer's 10 ms.
	if want := 1410 * time.Millisecond; s.Longest503 != want {
		t.Errorf("longest 503 run %s, want %s", s.Longest503, want)
	}
	// Baseline 10/s; seconds 4, 5 and 6 are below 9/s: back at 7 s, 3 s
	// after the fault.
	if s.Baseline != 10 || s.Recovery != 3*time.Second {
		t.Errorf("baseline %.1f, recovery %s", s.Baseline, s.Recovery)
	}
}
