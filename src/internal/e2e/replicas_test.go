package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// servedByHeader names the replica that answered, set by the test's load
// balancer.
const servedByHeader = "X-Served-By"

// roundRobin is a load balancer in front of the replicas: each request goes
// to the next one in turn, as a layer-7 balancer without session affinity
// does.
func roundRobin(t *testing.T, replicas ...*stack) *httptest.Server {
	t.Helper()
	targets := make([]*url.URL, len(replicas))
	for i, r := range replicas {
		u, err := url.Parse(r.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	var next atomic.Uint64
	lb := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int((next.Add(1) - 1) % uint64(len(targets)))
			pr.SetURL(targets[i])
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(servedByHeader, fmt.Sprint(i))
		},
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set(servedByHeader, res.Request.Header.Get(servedByHeader))
			return nil
		},
	})
	t.Cleanup(lb.Close)
	return lb
}

// listing is GET /api/v1/workouts as a client sees it through the balancer.
type listing struct {
	replica string
	stale   bool
	ids     []string
	pending []string
}

func list(t *testing.T, client *http.Client, base string) listing {
	t.Helper()
	res, err := client.Get(base + "/api/v1/workouts?limit=500")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("list: status %d", res.StatusCode)
	}
	var out struct {
		Workouts []struct{ ID string }
		Stale    bool
		Pending  []string
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("list: %v", err)
	}
	l := listing{replica: res.Header.Get(servedByHeader), stale: out.Stale, pending: out.Pending}
	for _, w := range out.Workouts {
		l.ids = append(l.ids, w.ID)
	}
	return l
}

// TestReadYourWritesAcrossReplicas runs two web replicas, each with its own
// publisher, history reader and port, behind a round-robin load balancer,
// over the real broker and store, with one consumer. Their history views
// are warm and refresh every 10 s (the default), so without the peers'
// announcements a workout logged through one replica would show on the
// other only after up to 10 s. Each workout logged through the balancer
// must show on the other replica's API within 1 s, pending or stored, and
// on its history page.
func TestReadYourWritesAcrossReplicas(t *testing.T) {
	const rounds, bound = 20, time.Second
	a := newStack(t, stackOptions{consumer: true, peers: true})
	b := newStack(t, stackOptions{peers: true, dbName: a.db.Name(), keepDB: true})
	lb := roundRobin(t, a, b)
	client := a.client

	// Warm both replicas' views from the database.
	for _, r := range []*stack{a, b} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, code, stale := get(t, r, "/api/v1/workouts"); code == http.StatusOK && !stale {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("replica view not fresh after 30 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	var delays []time.Duration
	pendingFirst := 0
	for i := range rounds {
		body := fmt.Sprintf(`{"exercise":"bench-press","performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":%d}]}`,
			time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), 60+i)
		req, err := http.NewRequest(http.MethodPost, lb.URL+"/api/v1/workouts", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		var got struct{ ID string }
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted || err != nil {
			t.Fatalf("post: status %d, %v", res.StatusCode, err)
		}
		accepted, by := time.Now(), res.Header.Get(servedByHeader)

		for {
			l := list(t, client, lb.URL)
			if l.replica != by && slices.Contains(l.ids, got.ID) {
				delays = append(delays, time.Since(accepted))
				if slices.Contains(l.pending, got.ID) {
					pendingFirst++
				}
				break
			}
			if time.Since(accepted) > 3*bound {
				t.Fatalf("workout %s accepted by replica %s not shown by the other after %s", got.ID, by, 3*bound)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	slices.Sort(delays)
	fmt.Printf("read-your-writes across 2 replicas behind a round-robin balancer: %d workouts, shown by the other replica after p50 %s, max %s (%d of them still pending then)\n",
		rounds, ms(delays[len(delays)/2]), ms(delays[len(delays)-1]), pendingFirst)
	if worst := delays[len(delays)-1]; worst > bound {
		t.Errorf("slowest workout took %s to show on the other replica, bound %s", worst, bound)
	}

	// The history page of either replica lists every workout.
	for _, r := range []*stack{a, b} {
		res, err := client.Get(r.srv.URL + "/history")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if n := strings.Count(string(page), "<tr data-id="); n != rounds {
			t.Errorf("history page of %s lists %d workouts, want %d", r.srv.URL, n, rounds)
		}
	}
}
