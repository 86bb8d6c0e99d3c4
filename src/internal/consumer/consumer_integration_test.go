package consumer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/publish"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var (
	broker *rabbitmqtest.Broker
	mongod *mongotest.Server
)

// childEnv makes the test binary run as a consumer child process that dies
// between its first write and its ack (TestKilledBetweenWriteAndAck).
const childEnv = "FITNESS_CONSUMER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runCrashingChild())
	}
	os.Exit(rabbitmqtest.Run(&broker, func() int { return mongotest.Main(m, &mongod) }))
}

// runCrashingChild consumes with the settings in its environment and exits
// with status 3 right after its first batch write, before the ack.
func runCrashingChild() int {
	client, err := store.Connect(store.Config{URI: os.Getenv("CHILD_MONGODB_URI")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c, err := New(Config{
		Dial:      amqpconn.Config{URL: os.Getenv("CHILD_AMQP_URL")},
		Store:     store.NewWriter(client.Database(os.Getenv("CHILD_MONGODB_DATABASE"))),
		BatchSize: 50,
		BatchWait: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.afterWrite = func(n int) {
		fmt.Fprintf(os.Stderr, "child: wrote %d, dying before the ack\n", n)
		os.Exit(3)
	}
	if err := c.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 1
}

// env is one test's database and a clean broker.
type env struct {
	t      *testing.T
	dbName string
	db     *mongo.Database
	admin  *amqp.Channel
}

func newEnv(t *testing.T) *env {
	t.Helper()
	client, err := store.Connect(store.Config{URI: mongod.URI()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dbName: mongod.Database(t)}
	e.db = client.Database(e.dbName)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.db.Drop(ctx); err != nil {
			t.Logf("drop database: %v", err)
		}
		if err := client.Disconnect(ctx); err != nil {
			t.Logf("disconnect: %v", err)
		}
	})
	e.openAdmin()
	for _, q := range []string{topology.Queue, topology.DeadLetterQueue} {
		if _, err := e.admin.QueuePurge(q, false); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// openAdmin opens the channel the test inspects the broker with (again
// after a broker restart).
func (e *env) openAdmin() {
	e.t.Helper()
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = conn.Close() })
	if e.admin, err = conn.Channel(); err != nil {
		e.t.Fatal(err)
	}
	if err := topology.Declare(e.admin); err != nil {
		e.t.Fatal(err)
	}
}

// start runs a consumer until the test ends.
func (e *env) start(mutate func(*Config)) (*Consumer, *Metrics) {
	e.t.Helper()
	m := NewMetrics(nil)
	cfg := Config{
		Dial:      amqpconn.Config{URL: broker.URL()},
		Store:     store.NewWriter(e.db),
		Metrics:   m,
		Reconnect: backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second},
		Retry:     backoff.Policy{Min: 50 * time.Millisecond, Max: time.Second},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("consumer: %v", err)
			}
		case <-time.After(30 * time.Second):
			e.t.Error("consumer did not stop within 30 s")
		}
	})
	e.waitFor("consumer ready", 30*time.Second, c.Ready)
	return c, m
}

func (e *env) publisher() *publish.Publisher {
	e.t.Helper()
	p := publish.New(publish.Config{
		Dial:    amqpconn.Config{URL: broker.URL()},
		Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond},
	})
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			e.t.Errorf("close publisher: %v", err)
		}
	})
	e.waitFor("publisher ready", 30*time.Second, p.Ready)
	return p
}

func (e *env) waitFor(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (e *env) stored() map[string]int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, err := e.db.Collection(store.Collection).Find(ctx, bson.D{})
	if err != nil {
		e.t.Fatal(err)
	}
	var docs []workout.Workout
	if err := cur.All(ctx, &docs); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, d := range docs {
		out[d.ID]++
	}
	return out
}

func (e *env) storedCount() int64 {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := e.db.Collection(store.Collection).CountDocuments(ctx, bson.D{})
	if err != nil {
		return -1
	}
	return n
}

func (e *env) queueDepth(name string) int {
	e.t.Helper()
	args := topology.QueueArgs()
	if name == topology.DeadLetterQueue {
		args = topology.DeadLetterQueueArgs()
	}
	q, err := e.admin.QueueDeclarePassive(name, true, false, false, false, args)
	if err != nil {
		e.t.Fatal(err)
	}
	return q.Messages
}

// publishRaw sends a body as the web app would, bypassing validation.
func (e *env) publishRaw(id string, body []byte) {
	e.t.Helper()
	if err := e.admin.PublishWithContext(context.Background(), topology.Exchange, topology.RoutingKey, true, false, amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: id, Body: body,
	}); err != nil {
		e.t.Fatal(err)
	}
}

func newWorkout(user string) workout.Workout {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return workout.Workout{
		ID: uuid.NewString(), UserID: user, Exercise: "deadlift",
		PerformedAt: now.Add(-2 * time.Hour), Unit: workout.Kilograms,
		Sets: []workout.Set{{Reps: 5, Weight: 140}, {Reps: 5, Weight: 140}}, LoggedAt: now,
	}
}

func publishAll(t *testing.T, p *publish.Publisher, ws []workout.Workout) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(ws))
	sem := make(chan struct{}, 32)
	for _, w := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- p.Publish(ctx, w)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoggedWorkoutLandsExactlyOnce(t *testing.T) {
	e := newEnv(t)
	p := e.publisher()
	_, m := e.start(nil)
	w := newWorkout("ana@example.com")
	// The web app retries with the same id (Idempotency-Key): still one.
	publishAll(t, p, []workout.Workout{w, w})
	e.waitFor("two messages handled", 30*time.Second, func() bool {
		return testutil.ToFloat64(m.Written)+testutil.ToFloat64(m.Duplicates) == 2
	})
	got := e.stored()
	if len(got) != 1 || got[w.ID] != 1 {
		t.Fatalf("stored %v, want %s exactly once", got, w.ID)
	}
	var doc workout.Workout
	if err := e.db.Collection(store.Collection).FindOne(context.Background(), bson.D{{Key: "_id", Value: w.ID}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.UserID != w.UserID || !doc.PerformedAt.Equal(w.PerformedAt) || len(doc.Sets) != 2 {
		t.Errorf("stored %+v, want %+v", doc, w)
	}
	if d := testutil.ToFloat64(m.Duplicates); d != 1 {
		t.Errorf("duplicates = %v, want 1", d)
	}
	if n := e.queueDepth(topology.Queue); n != 0 {
		t.Errorf("%d messages left in the queue", n)
	}
}

func TestPoisonMessagesAreDeadLetteredWhileOthersFlow(t *testing.T) {
	e := newEnv(t)
	p := e.publisher()
	_, m := e.start(nil)

	invalid := newWorkout("bo@example.com")
	invalid.Sets[0].Reps = 0
	invalidBody, err := jsonBody(invalid)
	if err != nil {
		t.Fatal(err)
	}
	poison := map[string][]byte{
		uuid.NewString(): []byte(`{"id": "not json`),
		uuid.NewString(): []byte(`{"id":"x","surprise":true}`),
		invalid.ID:       invalidBody,
	}
	var good []workout.Workout
	for range 300 {
		good = append(good, newWorkout("bo@example.com"))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		publishAll(t, p, good)
	}()
	for id, body := range poison {
		e.publishRaw(id, body)
	}
	wg.Wait()

	e.waitFor("good workouts persisted", time.Minute, func() bool { return e.storedCount() == int64(len(good)) })
	e.waitFor("poison dead-lettered", 30*time.Second, func() bool { return e.queueDepth(topology.DeadLetterQueue) == len(poison) })
	if n := testutil.ToFloat64(m.DeadLettered.WithLabelValues(ReasonInvalid)); n != float64(len(poison)) {
		t.Errorf("dead_lettered{invalid} = %v, want %d", n, len(poison))
	}
	for range poison {
		d, ok, err := e.admin.Get(topology.DeadLetterQueue, false)
		if err != nil || !ok {
			t.Fatalf("get dead letter: ok=%v err=%v", ok, err)
		}
		body, known := poison[d.MessageId]
		if !known || string(body) != string(d.Body) {
			t.Errorf("dead letter %s has an unexpected body %q", d.MessageId, d.Body)
		}
		reason, _ := d.Headers[topology.HeaderReason].(string)
		if reason == "" {
			t.Errorf("dead letter %s has no %s header: %v", d.MessageId, topology.HeaderReason, d.Headers)
		}
		if d.MessageId == invalid.ID && !contains(reason, "sets[0].reps") {
			t.Errorf("reason for the invalid workout = %q, want it to name sets[0].reps", reason)
		}
		if d.Headers[topology.HeaderOriginalRoutingKey] != topology.RoutingKey {
			t.Errorf("dead letter %s: original routing key %v", d.MessageId, d.Headers[topology.HeaderOriginalRoutingKey])
		}
		t.Logf("dead letter %s: %s", d.MessageId, reason)
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.queueDepth(topology.Queue); n != 0 {
		t.Errorf("%d messages left in the work queue", n)
	}
}

func TestBrokerRestartLosesNothingConfirmed(t *testing.T) {
	e := newEnv(t)
	p := e.publisher()
	e.start(nil)

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	confirmed := map[string]bool{}
	var failed int
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				w := newWorkout("cy@example.com")
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				err := p.Publish(pctx, w)
				pcancel()
				mu.Lock()
				if err == nil {
					confirmed[w.ID] = true
				} else {
					failed++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed)
	}
	e.waitFor("some confirmed before the stop", 30*time.Second, func() bool { return count() >= 200 })
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer stopCancel()
	if err := broker.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	before := count()
	time.Sleep(2 * time.Second)
	if err := broker.Start(stopCtx); err != nil {
		t.Fatal(err)
	}
	e.openAdmin()
	e.waitFor("confirms after the restart", time.Minute, func() bool { return count() >= before+200 })
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("confirmed %d, failed %d (refused while the broker was down)", len(confirmed), failed)
	e.waitFor("every confirmed workout persisted", 2*time.Minute, func() bool {
		got := e.stored()
		for id := range confirmed {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	for id, n := range e.stored() {
		if n != 1 {
			t.Errorf("workout %s stored %d times", id, n)
		}
	}
	if n := e.queueDepth(topology.DeadLetterQueue); n != 0 {
		t.Errorf("%d messages dead-lettered", n)
	}
}

func TestKilledBetweenWriteAndAckCausesNoDuplicate(t *testing.T) {
	e := newEnv(t)
	p := e.publisher()
	var ws []workout.Workout
	for range 120 {
		ws = append(ws, newWorkout("dee@example.com"))
	}
	publishAll(t, p, ws)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"CHILD_AMQP_URL="+broker.URL(), "CHILD_MONGODB_URI="+mongod.URI(), "CHILD_MONGODB_DATABASE="+e.dbName)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("child: %s", out)
	written := e.storedCount()
	if written == 0 || written == int64(len(ws)) {
		t.Fatalf("child wrote %d of %d before dying; want a partial write", written, len(ws))
	}

	_, m := e.start(nil)
	e.waitFor("every workout persisted", time.Minute, func() bool { return e.storedCount() == int64(len(ws)) })
	got := e.stored()
	for _, w := range ws {
		if got[w.ID] != 1 {
			t.Errorf("workout %s stored %d times", w.ID, got[w.ID])
		}
	}
	if len(got) != len(ws) {
		t.Errorf("stored %d distinct workouts, want %d", len(got), len(ws))
	}
	if d := testutil.ToFloat64(m.Duplicates); d != float64(written) {
		t.Errorf("duplicates = %v, want the %d redelivered after the crash", d, written)
	}
	if n := e.queueDepth(topology.DeadLetterQueue); n != 0 {
		t.Errorf("%d messages dead-lettered", n)
	}
}

func TestDatabaseOutagePausesConsumption(t *testing.T) {
	if !mongod.Embedded() {
		t.Skip("needs the embedded database to stop it")
	}
	e := newEnv(t)
	p := e.publisher()
	_, m := e.start(nil)

	first := []workout.Workout{newWorkout("eve@example.com")}
	publishAll(t, p, first)
	e.waitFor("first workout persisted", 30*time.Second, func() bool { return e.storedCount() == 1 })

	if err := mongod.Stop(); err != nil {
		t.Fatal(err)
	}
	outage := time.Now()
	restarted := false
	defer func() {
		if !restarted {
			if err := mongod.Start(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	// Workouts keep being logged during the outage.
	var during []workout.Workout
	for time.Since(outage) < 30*time.Second {
		batch := []workout.Workout{newWorkout("eve@example.com"), newWorkout("eve@example.com")}
		publishAll(t, p, batch)
		during = append(during, batch...)
		time.Sleep(250 * time.Millisecond)
	}
	if testutil.ToFloat64(m.Paused) != 1 {
		t.Error("consumer not paused during the outage")
	}
	if testutil.ToFloat64(m.WriteErrors) == 0 {
		t.Error("no write errors recorded during the outage")
	}
	if n := e.queueDepth(topology.DeadLetterQueue); n != 0 {
		t.Fatalf("%d messages dead-lettered during the outage", n)
	}
	if err := mongod.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	want := int64(len(first) + len(during))
	e.waitFor("every workout persisted after the outage", 2*time.Minute, func() bool { return e.storedCount() == want })
	got := e.stored()
	for _, w := range during {
		if got[w.ID] != 1 {
			t.Errorf("workout %s stored %d times", w.ID, got[w.ID])
		}
	}
	if n := e.queueDepth(topology.DeadLetterQueue); n != 0 {
		t.Errorf("%d messages dead-lettered", n)
	}
	if n := testutil.ToFloat64(m.DeadLettered.WithLabelValues(ReasonInvalid)); n != 0 {
		t.Errorf("dead_lettered = %v", n)
	}
	t.Logf("outage: %d workouts logged meanwhile, %v write errors, persisted after restart", len(during), testutil.ToFloat64(m.WriteErrors))
}

func TestServerSideCancelIsSurvived(t *testing.T) {
	e := newEnv(t)
	p := e.publisher()
	c, m := e.start(nil)
	publishAll(t, p, []workout.Workout{newWorkout("fay@example.com")})
	e.waitFor("first persisted", 30*time.Second, func() bool { return e.storedCount() == 1 })
	// Deleting the queue cancels its consumers on the broker's side.
	if _, err := e.admin.QueueDelete(topology.Queue, false, false, false); err != nil {
		t.Fatal(err)
	}
	e.waitFor("consumer reconnected", 30*time.Second, func() bool {
		return testutil.ToFloat64(m.Reconnects) >= 1 && c.Ready()
	})
	// The consumer declared the queue again; the publisher's next publish
	// is routed to it.
	publishAll(t, p, []workout.Workout{newWorkout("fay@example.com")})
	e.waitFor("second persisted", 30*time.Second, func() bool { return e.storedCount() == 2 })
}

// TestDeliveryLimitDeadLettersAMessageThatKeepsFailing checks the broker's
// safety net behind the consumer: a message returned to the queue more than
// topology.DeliveryLimit times (say, one that crashes every consumer) is
// dead-lettered with x-death instead of looping forever.
func TestDeliveryLimitDeadLettersAMessageThatKeepsFailing(t *testing.T) {
	e := newEnv(t)
	id := uuid.NewString()
	e.publishRaw(id, []byte(`{}`))
	if err := e.admin.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := e.admin.Consume(topology.Queue, "crashing", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	returned := 0
	timeout := time.After(30 * time.Second)
loop:
	for {
		select {
		case d := <-deliveries:
			if err := d.Nack(false, true); err != nil {
				t.Fatal(err)
			}
			returned++
		case <-time.After(500 * time.Millisecond):
			if e.queueDepth(topology.DeadLetterQueue) == 1 {
				break loop
			}
		case <-timeout:
			t.Fatalf("not dead-lettered after %d returns", returned)
		}
	}
	if err := e.admin.Cancel("crashing", false); err != nil {
		t.Fatal(err)
	}
	if returned != topology.DeliveryLimit+1 {
		t.Errorf("delivered %d times, want %d (the limit plus the first)", returned, topology.DeliveryLimit+1)
	}
	d, ok, err := e.admin.Get(topology.DeadLetterQueue, false)
	if err != nil || !ok {
		t.Fatalf("get dead letter: ok=%v err=%v", ok, err)
	}
	deaths, _ := d.Headers["x-death"].([]any)
	if d.MessageId != id || len(deaths) == 0 {
		t.Errorf("dead letter %s with x-death %v", d.MessageId, d.Headers["x-death"])
	} else {
		t.Logf("x-death: %v", deaths[0])
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
}
