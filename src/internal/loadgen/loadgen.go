// Package loadgen drives the web app with an open-loop load of workout
// POSTs, keeps every answer, and audits the store against them: the fault
// tests, the chaos run (src/internal/chaos) and the web tier's replica
// tests share it.
//
//	l := loadgen.Start(ctx, loadgen.Config{URL: "http://127.0.0.1:8080", Rate: 500})
//	at := time.Now() // ... inject a fault ...
//	res := l.Stop()  // waits for every request sent to be answered
//	audit, err := loadgen.AuditStore(ctx, collection, res, time.Minute)
//	row := res.Summarize("kill leader", res.Start, at, res.End, audit)
//	loadgen.WriteTable(os.Stdout, []loadgen.Summary{row})
//
// Open loop: requests leave at the configured rate whether or not earlier
// ones were answered, as users' requests do, so an outage shows as a run of
// errors and a backlog, not as a generator that politely slows down. Each
// POST carries a fresh workout id in its body, so the audit knows the id of
// every request, answered 202 or not.
package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Config configures a load.
type Config struct {
	// URL is the web app's base URL (or a load balancer's); the load
	// POSTs to URL + "/api/v1/workouts".
	URL string
	// Rate is POSTs per second (500 when 0).
	Rate int
	// MaxInFlight bounds requests sent and not yet answered (10 s worth of
	// Rate when 0: more than the web app's 5 s publish timeout lets pile
	// up); a request due while the bound is reached is not sent and is
	// counted in SkippedAt.
	MaxInFlight int
	// Client sends the requests (a client with a 15 s timeout and enough
	// idle connections when nil).
	Client *http.Client
	// Header is added to every request.
	Header http.Header
	// UserHeader, when set, names the request header that carries the
	// user, spread round robin over Users users (1000 when 0): the web app
	// keeps each user's just-logged workouts in memory, and a real load
	// comes from many users. The app's authenticator must read it.
	UserHeader string
	Users      int
}

// Answer is what one POST got.
type Answer struct {
	ID         string
	Sent       time.Time
	Answered   time.Time
	Status     int  // 0 when no HTTP answer came (Err says why)
	RetryAfter bool // the answer carried Retry-After
	Err        error
}

// Load is a running load; Stop ends it.
type Load struct {
	cfg    Config
	cancel context.CancelFunc
	done   chan struct{}
	start  time.Time

	mu      sync.Mutex
	answers []Answer
	skipped []time.Time
	end     time.Time
}

// Start starts sending at cfg.Rate until Stop or ctx ends.
func Start(ctx context.Context, cfg Config) *Load {
	if cfg.Rate <= 0 {
		cfg.Rate = 500
	}
	if cfg.Users <= 0 {
		cfg.Users = 1000
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 10 * cfg.Rate
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second},
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cfg: cfg, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	go l.run(ctx)
	return l
}

// StartedAt is when the load started.
func (l *Load) StartedAt() time.Time { return l.start }

// Stop stops sending, waits until every request sent was answered (the
// client's timeout bounds that) and returns the answers in sending order.
func (l *Load) Stop() Result {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	answers := make([]Answer, len(l.answers))
	copy(answers, l.answers)
	sortBySent(answers)
	return Result{Start: l.start, End: l.end, Rate: l.cfg.Rate, Answers: answers, SkippedAt: slices.Clone(l.skipped)}
}

// Accepted counts the 202s so far (for watching throughput during a run).
func (l *Load) Accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.answers {
		if a.Status == http.StatusAccepted {
			n++
		}
	}
	return n
}

func (l *Load) run(ctx context.Context) {
	defer close(l.done)
	var wg sync.WaitGroup
	inFlight := make(chan struct{}, l.cfg.MaxInFlight)
	// The schedule is absolute: request n is due at start + n/Rate, so a
	// late tick sends the requests it owes instead of drifting.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			l.mu.Lock()
			l.end = time.Now()
			l.mu.Unlock()
			return
		case now := <-tick.C:
			due := int(now.Sub(l.start).Seconds() * float64(l.cfg.Rate))
			for ; sent < due; sent++ {
				select {
				case inFlight <- struct{}{}:
				default:
					l.mu.Lock()
					l.skipped = append(l.skipped, now)
					l.mu.Unlock()
					continue
				}
				wg.Add(1)
				go func(seq int) {
					defer wg.Done()
					defer func() { <-inFlight }()
					a := l.post(seq)
					l.mu.Lock()
					l.answers = append(l.answers, a)
					l.mu.Unlock()
				}(sent)
			}
		}
	}
}

var exercises = []string{"back-squat", "bench-press", "deadlift", "barbell-row", "overhead-press"}

// post sends one workout. The requests are not tied to the load's context:
// a request sent is always answered (or times out), so that Stop never
// leaves an accepted workout unrecorded.
func (l *Load) post(seq int) Answer {
	id := uuid.NewString()
	performed := time.Now().Add(-time.Duration(1+seq%600) * time.Minute).UTC().Format(time.RFC3339)
	body := fmt.Sprintf(`{"id":%q,"exercise":%q,"performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":%d},{"reps":5,"weight":%d}]}`,
		id, exercises[seq%len(exercises)], performed, 40+seq%100, 40+seq%100)
	a := Answer{ID: id, Sent: time.Now()}
	req, err := http.NewRequest(http.MethodPost, l.cfg.URL+"/api/v1/workouts", bytes.NewReader([]byte(body)))
	if err != nil {
		a.Err, a.Answered = err, time.Now()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	// As a client retrying with the same id would: it also lets net/http
	// resend the request when a kept-alive connection turned out closed.
	req.Header.Set("Idempotency-Key", id)
	for k, v := range l.cfg.Header {
		req.Header[k] = v
	}
	if l.cfg.UserHeader != "" {
		req.Header.Set(l.cfg.UserHeader, fmt.Sprintf("load-%d@example.com", seq%l.cfg.Users))
	}
	res, err := l.cfg.Client.Do(req)
	a.Answered = time.Now()
	if err != nil {
		a.Err = err
		return a
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	a.Status = res.StatusCode
	a.RetryAfter = res.Header.Get("Retry-After") != ""
	return a
}
