// Package bench holds what `make bench` measures with: the servers of one
// run, the realistic data set, and the raw limits each stage is compared
// with (amqp091-go publishing with an asynchronous confirm window, and
// InsertMany straight into the store), so that every ratio is taken against
// physics measured in the same run on the same servers.
//
// The program is src/cmd/fitbench (`go run ./src/cmd/fitbench`, stages
// publisher, consumer, latency, reads). A stage of another package's
// (the web tier's confirmed POST throughput as `publish ratio`, the pages'
// read latencies) is one more file in src/cmd/fitbench whose init calls
// register("web", func(ctx context.Context, e *env) error { ... }), using
// e.servers for the URLs, RawPublish for the raw limit with the same number
// of goroutines, Recorder around the consumer's store for POST-to-persisted
// times, and Percentile.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/demo"
	"github.com/homelab-gitops/homelab/src/internal/localmongo"
	"github.com/homelab-gitops/homelab/src/internal/localrabbit"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Servers are the broker and the database of one benchmark run.
type Servers struct {
	AMQPURL  string
	MongoURI string
	// Embedded is true when the database is the in-process FerretDB.
	Embedded bool
	stops    []func()
}

// StartServers starts a private RabbitMQ and, unless MONGODB_URI is set, an
// embedded FerretDB, both under a temporary directory.
func StartServers(ctx context.Context) (*Servers, error) {
	dir, err := os.MkdirTemp("", "fitbench-")
	if err != nil {
		return nil, fmt.Errorf("start servers: %w", err)
	}
	s := &Servers{stops: []func(){func() { os.RemoveAll(dir) }}}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	script, err := localrabbit.FindScript(wd)
	if err != nil {
		return nil, err
	}
	b, err := localrabbit.Start(ctx, script, dir+"/rabbitmq")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.AMQPURL = b.URL()
	s.stops = append(s.stops, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "stop rabbitmq:", err)
		}
	})
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		s.MongoURI = uri
		return s, nil
	}
	m, err := localmongo.Start(ctx, dir+"/ferretdb", slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.MongoURI, s.Embedded = m.URI(), true
	s.stops = append(s.stops, func() {
		if err := m.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop ferretdb:", err)
		}
	})
	return s, nil
}

// Close stops the servers and removes their data.
func (s *Servers) Close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// Users returns the user ids of a data set of n workouts with about 600 per
// user (two years of training).
func Users(n int) []string {
	users := make([]string, 0, n/600+1)
	for i := 0; len(users)*600 < n; i++ {
		users = append(users, fmt.Sprintf("lifter%03d@example.com", i))
	}
	return users
}

// Workouts returns n realistic workouts: two years of history for each of
// Users(n), interleaved so that a queue holds many users' workouts at once.
func Workouts(n int, end time.Time) []workout.Workout {
	var per [][]workout.Workout
	for _, u := range Users(n) {
		per = append(per, demo.History(u, end, 104))
	}
	out := make([]workout.Workout, 0, n)
	for i := 0; len(out) < n; i++ {
		added := false
		for _, h := range per {
			if i < len(h) && len(out) < n {
				out = append(out, h[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// Message is a workout as package publish sends it: its id is the
// message id, which the consumer checks against the body.
type Message struct {
	ID   string
	Body []byte
}

// Messages encodes ws as messages.
func Messages(ws []workout.Workout) ([]Message, error) {
	out := make([]Message, len(ws))
	for i, w := range ws {
		b, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		out[i] = Message{ID: w.ID, Body: b}
	}
	return out, nil
}

// Rate is n operations in a duration.
type Rate struct {
	N       int
	Elapsed time.Duration
}

// PerSecond is the throughput.
func (r Rate) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

func (r Rate) String() string {
	return fmt.Sprintf("%d in %v = %.0f/s", r.N, r.Elapsed.Round(time.Millisecond), r.PerSecond())
}

// Ratio is a/b rounded for printing, 0 when b is 0.
func Ratio(a, b Rate) float64 {
	if b.PerSecond() == 0 {
		return 0
	}
	return a.PerSecond() / b.PerSecond()
}

// RawPublish is the broker's limit for confirmed publishing: amqp091-go on
// one connection and channel in confirm mode, `goroutines` publishers each
// keeping up to window/goroutines persistent messages unconfirmed, to the
// workouts exchange (so into the quorum queue). Every message is confirmed
// before it returns; a nack is an error.
func RawPublish(ctx context.Context, url string, msgs []Message, goroutines, window int) (Rate, error) {
	conn, err := amqp.Dial(url)
	if err != nil {
		return Rate{}, fmt.Errorf("raw publish: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return Rate{}, fmt.Errorf("raw publish: %w", err)
	}
	if err := topology.Declare(ch); err != nil {
		return Rate{}, fmt.Errorf("raw publish: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return Rate{}, fmt.Errorf("raw publish: %w", err)
	}
	per := max(1, window/max(1, goroutines))
	jobs := make(chan int, goroutines)
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	start := time.Now()
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pending []*amqp.DeferredConfirmation
			wait := func(keep int) error {
				for len(pending) > keep {
					ok, err := pending[0].WaitContext(ctx)
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("raw publish: nacked")
					}
					pending = pending[1:]
				}
				return nil
			}
			for i := range jobs {
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, topology.Exchange, topology.RoutingKey, true, false, amqp.Publishing{
					// The properties package publish sets, so that both
					// sides put the same bytes on the wire and the consumer
					// accepts the message.
					ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: msgs[i].ID,
					Timestamp: time.Now().UTC(), Type: "workout.logged", AppId: "fitness-web", Body: msgs[i].Body,
				})
				if err != nil {
					errs <- err
					return
				}
				pending = append(pending, dc)
				if err := wait(per - 1); err != nil {
					errs <- err
					return
				}
			}
			if err := wait(0); err != nil {
				errs <- err
			}
		}()
	}
	for i := range msgs {
		select {
		case jobs <- i:
		case err := <-errs:
			close(jobs)
			wg.Wait()
			return Rate{}, err
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return Rate{}, err
	default:
	}
	return Rate{N: len(msgs), Elapsed: elapsed}, nil
}

// RawInsert is the database's limit for persisting workouts: InsertMany of
// `batch` documents at a time, unordered, with the same write concern the
// consumer asks for, straight into collection coll of db.
func RawInsert(ctx context.Context, db *mongo.Database, coll string, ws []workout.Workout, batch int) (Rate, error) {
	c := db.Collection(coll, options.Collection().SetWriteConcern(store.WriteConcern()))
	start := time.Now()
	for i := 0; i < len(ws); i += batch {
		docs := make([]any, 0, batch)
		for _, w := range ws[i:min(i+batch, len(ws))] {
			docs = append(docs, w)
		}
		if _, err := c.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return Rate{}, fmt.Errorf("raw insert: %w", err)
		}
	}
	return Rate{N: len(ws), Elapsed: time.Since(start)}, nil
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Purge empties the work and dead-letter queues between stages.
func Purge(url string) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if err := topology.Declare(ch); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	for _, q := range []string{topology.Queue, topology.DeadLetterQueue} {
		if _, err := ch.QueuePurge(q, false); err != nil {
			return fmt.Errorf("purge %s: %w", q, err)
		}
	}
	return nil
}
