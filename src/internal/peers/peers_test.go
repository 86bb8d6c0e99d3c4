package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/yaml"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var broker *rabbitmqtest.Broker

func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m, &broker)) }

// sink records what a replica heard, and when.
type sink struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *sink) Remember(w workout.Workout) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	s.seen[w.ID] = time.Now()
}

func (s *sink) at(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[id]
	return t, ok
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

type replica struct {
	n    *Notifier
	sink *sink

	mu   sync.Mutex
	conn net.Conn // the latest connection to the broker
}

// cut closes the replica's connection under it, as a network fault would.
func (r *replica) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conn.Close()
}

func startReplica(t *testing.T, name string) *replica {
	t.Helper()
	return startReplicaAt(t, name, broker.URL())
}

func startReplicaAt(t *testing.T, name, amqpURL string) *replica {
	t.Helper()
	r := &replica{sink: &sink{}}
	dial := amqpconn.Config{URL: amqpURL, WrapConn: func(c net.Conn) net.Conn {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.conn = c
		return c
	}}
	n, err := New(Config{Dial: dial, Sink: r.sink, Replica: name, Registry: prometheus.NewRegistry(),
		Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r.n = n
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, 30*time.Second, name+" connected", n.Connected)
	return r
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func accepted(i int) workout.Workout {
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	return workout.Workout{ID: fmt.Sprintf("abcdef00-0000-4000-8000-%012d", i), UserID: fmt.Sprintf("user-%d@example.com", i%7),
		Exercise: "back-squat", PerformedAt: at, Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 100}}, LoggedAt: at}
}

// TestOtherReplicasHearAcceptedWorkouts: what one replica announces reaches
// every other replica within FlushEvery plus the broker's delivery, and
// never comes back to the replica that announced it.
func TestOtherReplicasHearAcceptedWorkouts(t *testing.T) {
	a, b, c := startReplica(t, "a"), startReplica(t, "b"), startReplica(t, "c")
	const n = 1200 // more than one message's worth
	start := time.Now()
	for i := range n {
		a.n.Announce(accepted(i))
	}
	for _, r := range []*replica{b, c} {
		waitFor(t, 5*time.Second, fmt.Sprintf("all %d workouts heard", n), func() bool { return r.sink.count() == n })
	}
	last, _ := b.sink.at(accepted(n - 1).ID)
	t.Logf("%d workouts announced by a heard by b in %s", n, last.Sub(start).Round(time.Millisecond))
	if d := last.Sub(start); d > time.Second {
		t.Errorf("announcements took %s, want under 1 s", d)
	}
	// a's own batches came back to it and were skipped.
	time.Sleep(2 * DefaultFlushEvery)
	if got := a.sink.count(); got != 0 {
		t.Errorf("the announcing replica heard %d of its own workouts", got)
	}
	if got := testutil.ToFloat64(a.n.m.workouts.WithLabelValues("sent")); got != n {
		t.Errorf("sent = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(b.n.m.workouts.WithLabelValues("received")); got != n {
		t.Errorf("received by b = %v, want %d", got, n)
	}
}

// TestAnnouncementsResumeAfterTheConnectionIsLost: replicas whose
// connections are cut reconnect, bind new queues and exchange
// announcements again; what a sender held meanwhile goes out then.
func TestAnnouncementsResumeAfterTheConnectionIsLost(t *testing.T) {
	a, b := startReplica(t, "resume-a"), startReplica(t, "resume-b")
	a.n.Announce(accepted(1))
	waitFor(t, 5*time.Second, "first workout heard", func() bool { _, ok := b.sink.at(accepted(1).ID); return ok })

	b.cut()
	waitFor(t, 5*time.Second, "b noticed the cut", func() bool { return !b.n.Connected() })
	waitFor(t, 30*time.Second, "b reconnected", b.n.Connected)
	// b's new queue is bound by the time Connected is true.
	a.n.Announce(accepted(2))
	waitFor(t, 5*time.Second, "workout heard after b reconnected", func() bool { _, ok := b.sink.at(accepted(2).ID); return ok })

	a.cut()
	a.n.Announce(accepted(3)) // held while a is away
	waitFor(t, 30*time.Second, "a reconnected", a.n.Connected)
	waitFor(t, 5*time.Second, "held workout heard after a reconnected", func() bool { _, ok := b.sink.at(accepted(3).ID); return ok })
}

// TestTheAppsBrokerUserMayAnnounce: the web app's broker user may touch
// only names matching the permissions in infrastructure/configs/rabbitmq
// (^workouts(\..+)?$); a replica connected as such a user declares, binds
// and consumes its queue and hears the others.
func TestTheAppsBrokerUserMayAnnounce(t *testing.T) {
	perm := readPermission(t, "../../../infrastructure/configs/rabbitmq/permission-fitness.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const user, password = "fitness-peers-test", "not-a-secret"
	for _, args := range [][]string{
		{"add_user", user, password},
		{"set_permissions", "-p", "/", user, perm.Configure, perm.Write, perm.Read},
	} {
		if _, err := broker.Ctl(ctx, args...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if _, err := broker.Ctl(context.Background(), "delete_user", user); err != nil {
			t.Errorf("delete user: %v", err)
		}
	})
	u, err := url.Parse(broker.URL())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)

	a, b := startReplicaAt(t, "perm-a", u.String()), startReplicaAt(t, "perm-b", u.String())
	a.n.Announce(accepted(7))
	waitFor(t, 5*time.Second, "workout heard", func() bool { _, ok := b.sink.at(accepted(7).ID); return ok })
}

// permission is the part of a RabbitMQ Permission manifest the test uses.
type permission struct {
	Configure, Write, Read string
}

func readPermission(t *testing.T, path string) permission {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Permissions permission `json:"permissions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p := doc.Spec.Permissions
	if p.Configure == "" || p.Write == "" || p.Read == "" {
		t.Fatalf("%s: spec.permissions has no configure, write or read", path)
	}
	return p
}

func TestBatchesEncodeAsJSONArrays(t *testing.T) {
	ws := []workout.Workout{accepted(1), accepted(2), accepted(3)}
	ws[1].Notes = `<"quoted" & escaped>`
	got, err := encode([]byte("x")[:0], ws)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(ws)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("encode:\n%s\njson.Marshal:\n%s", got, want)
	}
	if got, err := encode(nil, nil); err != nil || string(got) != "[]" {
		t.Errorf("encode(nil) = %s, %v; want []", got, err)
	}
}
