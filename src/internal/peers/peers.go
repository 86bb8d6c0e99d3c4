// Package peers tells every web replica about the workouts any replica
// accepted, so that a user whose next request lands on another replica
// sees the workout at once (as pending until a database read shows it)
// instead of after that replica's next history refresh.
//
// Each replica batches the workouts it accepted (the broker confirmed
// them) for Config.FlushEvery and publishes the batch as one transient
// message to the fanout exchange Exchange. Each replica binds an exclusive,
// auto-delete queue of its own to it and hands the other replicas'
// workouts to its Sink (the history reader's Remember); its own batches
// come back too and are skipped by their app id.
//
// Announcements are a hint, never the record: they are not confirmed,
// they are dropped while the broker is unreachable and when a replica's
// queue overflows, and a replica that reconnects has missed what was sent
// meanwhile. What a replica misses it shows after its next history refresh,
// as before. Workouts reach the database only through the work queue.
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Exchange is the fanout exchange accepted-workout batches go through;
// each replica's queue is named Exchange + "." + its replica name.
const Exchange = "workouts.accepted"

// Defaults.
const (
	DefaultFlushEvery = 50 * time.Millisecond
	DefaultMaxBatch   = 500
	DefaultMaxWaiting = 10_000
	// queueLength bounds the batches waiting in a replica's queue; the
	// oldest go first (the queue's default overflow), so a stalled replica
	// never makes the broker refuse anything.
	queueLength = 1000
	// messageTTL drops a batch no replica read in time: by then every
	// replica has refreshed from the database anyway.
	messageTTL = 30 * time.Second
	// messageType is the type of an announcement message.
	messageType = "workouts.accepted"
)

// Sink receives the workouts other replicas accepted.
type Sink interface {
	Remember(w workout.Workout)
}

// Config configures a Notifier.
type Config struct {
	Dial amqpconn.Config
	Sink Sink
	// Replica names this process in the messages it sends (default: host
	// name, process id and a random suffix).
	Replica string
	// FlushEvery is how long the first workout of a batch waits for others
	// (DefaultFlushEvery): the bound on the delay it adds.
	FlushEvery time.Duration
	// MaxBatch bounds the workouts in one message (DefaultMaxBatch).
	MaxBatch int
	// MaxWaiting bounds the workouts held while the broker is unreachable
	// (DefaultMaxWaiting); beyond it new ones are dropped.
	MaxWaiting int
	// Backoff spaces reconnections (100 ms to 10 s by default).
	Backoff backoff.Policy
	// Registry receives the metrics (default: none registered).
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// Notifier sends this replica's accepted workouts to the other replicas
// and receives theirs. Create it with New, call Run, and Announce from
// any goroutine.
type Notifier struct {
	cfg Config
	log *slog.Logger
	m   metrics

	mu      sync.Mutex
	waiting []workout.Workout
	// spare is the last sent batch's array, emptied, for the next one to
	// fill: a replica accepts every workout into one of them.
	spare []workout.Workout
	// body is the session's encoding buffer (publishing copies it out).
	body []byte
	// kick wakes the session when the first workout of a batch arrives.
	kick      chan struct{}
	connected atomic.Bool
}

type metrics struct {
	workouts  *prometheus.CounterVec
	connected prometheus.GaugeFunc
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Notifier, error) {
	if cfg.Sink == nil {
		return nil, errors.New("peers: no sink")
	}
	if cfg.Dial.URL == "" && len(cfg.Dial.URLs) == 0 {
		return nil, errors.New("peers: no amqp url")
	}
	if cfg.Replica == "" {
		host, _ := os.Hostname()
		cfg.Replica = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = DefaultFlushEvery
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial.ConnectionName == "" {
		cfg.Dial.ConnectionName = "fitness-web peers " + cfg.Replica
	}
	n := &Notifier{cfg: cfg, log: cfg.Logger.With("component", "peers", "replica", cfg.Replica), kick: make(chan struct{}, 1)}
	n.m = metrics{
		workouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_web_peer_workouts_total",
			Help: "Accepted workouts announced to the other web replicas (sent), received from them, or dropped (broker unreachable, backlog full, undecodable).",
		}, []string{"result"}),
		connected: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fitness_web_peers_connected",
			Help: "1 while this replica exchanges accepted workouts with the others through the broker.",
		}, func() float64 {
			if n.connected.Load() {
				return 1
			}
			return 0
		}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{n.m.workouts, n.m.connected} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("peers: register metric: %w", err)
			}
		}
	}
	return n, nil
}

// Replica is the name this notifier sends under.
func (n *Notifier) Replica() string { return n.cfg.Replica }

// Connected reports whether announcements currently flow.
func (n *Notifier) Connected() bool { return n.connected.Load() }

// Announce queues w, which this replica accepted, for the other replicas.
// It never blocks.
func (n *Notifier) Announce(w workout.Workout) {
	n.mu.Lock()
	if len(n.waiting) >= n.cfg.MaxWaiting {
		n.mu.Unlock()
		n.m.workouts.WithLabelValues("dropped").Inc()
		return
	}
	n.waiting = append(n.waiting, w)
	first := len(n.waiting) == 1
	n.mu.Unlock()
	if first {
		select {
		case n.kick <- struct{}{}:
		default:
		}
	}
}

// Run exchanges announcements until ctx ends, reconnecting with backoff;
// failures are logged, never fatal, as announcements are only a hint.
func (n *Notifier) Run(ctx context.Context) {
	attempt := 0
	for {
		connected, err := n.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			attempt = 0
		}
		n.log.Warn("peer announcements interrupted; reconnecting", "error", err, "attempt", attempt+1)
		if !n.cfg.Backoff.Sleep(ctx, attempt) {
			return
		}
		attempt++
	}
}

// session runs one connection and reports whether it got as far as
// receiving.
func (n *Notifier) session(ctx context.Context) (bool, error) {
	conn, err := amqpconn.Dial(ctx, n.cfg.Dial)
	if err != nil {
		return false, err
	}
	defer func() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			n.log.Debug("close connection", "error", err)
		}
	}()
	deliveries, pub, err := n.open(conn)
	if err != nil {
		return false, err
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	n.connected.Store(true)
	defer n.connected.Store(false)
	n.log.Info("exchanging accepted workouts with the other replicas", "exchange", Exchange)

	var flush <-chan time.Time
	n.mu.Lock()
	if len(n.waiting) > 0 {
		flush = time.After(n.cfg.FlushEvery)
	}
	n.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case e, ok := <-closed:
			if !ok || e == nil {
				return true, errors.New("connection closed")
			}
			return true, fmt.Errorf("connection closed: %w", e)
		case d, ok := <-deliveries:
			if !ok {
				return true, errors.New("announcement queue closed")
			}
			n.receive(d)
		case <-n.kick:
			if flush == nil {
				flush = time.After(n.cfg.FlushEvery)
			}
		case <-flush:
			flush = nil
			if err := n.send(ctx, pub); err != nil {
				return true, err
			}
		}
	}
}

// open declares the exchange and this replica's queue, and starts
// consuming it; announcements go out on a channel of their own, so that
// flow control on publishing never holds up receiving.
func (n *Notifier) open(conn *amqp.Connection) (<-chan amqp.Delivery, *amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.ExchangeDeclare(Exchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return nil, nil, fmt.Errorf("declare exchange %s: %w", Exchange, err)
	}
	// Named under "workouts." (not server-named amq.gen-*): the app's
	// broker user may configure, read and write only names matching
	// ^workouts(\..+)?$ (infrastructure/configs/rabbitmq).
	q, err := ch.QueueDeclare(Exchange+"."+n.cfg.Replica, false, true, true, false, amqp.Table{
		"x-max-length":  int32(queueLength),
		"x-message-ttl": int32(messageTTL.Milliseconds()),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("declare announcement queue: %w", err)
	}
	if err := ch.QueueBind(q.Name, "", Exchange, false, nil); err != nil {
		return nil, nil, fmt.Errorf("bind %s to %s: %w", q.Name, Exchange, err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("consume %s: %w", q.Name, err)
	}
	pub, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open publishing channel: %w", err)
	}
	return deliveries, pub, nil
}

// send publishes what is waiting, MaxBatch workouts per message. What a
// failed publish did not send waits for the next session (receivers
// remember a workout once, however often they hear of it).
func (n *Notifier) send(ctx context.Context, ch *amqp.Channel) error {
	n.mu.Lock()
	ws := n.waiting
	n.waiting, n.spare = n.spare, nil
	n.mu.Unlock()
	sent := ws
	for len(ws) > 0 {
		batch := ws[:min(len(ws), n.cfg.MaxBatch)]
		body, err := encode(n.body[:0], batch)
		if err != nil {
			// Workouts always encode; should one not, drop it all rather
			// than retry it forever.
			n.m.workouts.WithLabelValues("dropped").Add(float64(len(ws)))
			return fmt.Errorf("encode %d workouts: %w", len(batch), err)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = ch.PublishWithContext(pctx, Exchange, "", false, false, amqp.Publishing{
			ContentType:  "application/json",
			DeliveryMode: amqp.Transient,
			Type:         messageType,
			AppId:        n.cfg.Replica,
			Timestamp:    time.Now().UTC(),
			Body:         body,
		})
		cancel()
		if err != nil {
			n.requeue(ws)
			return fmt.Errorf("publish %d workouts to %s: %w", len(batch), Exchange, err)
		}
		n.body = body
		n.m.workouts.WithLabelValues("sent").Add(float64(len(batch)))
		ws = ws[len(batch):]
	}
	clear(sent)
	n.mu.Lock()
	n.spare = sent[:0]
	n.mu.Unlock()
	return nil
}

// encode appends workouts as a JSON array, as json.Marshal writes it,
// without its reflection (a batch carries every workout this replica
// accepted).
func encode(b []byte, ws []workout.Workout) ([]byte, error) {
	b = append(b, '[')
	for i, w := range ws {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = workout.AppendJSON(b, w); err != nil {
			return nil, fmt.Errorf("workout %s: %w", w.ID, err)
		}
	}
	return append(b, ']'), nil
}

// requeue puts unsent workouts back before those announced since, keeping
// the newest MaxWaiting.
func (n *Notifier) requeue(ws []workout.Workout) {
	n.mu.Lock()
	defer n.mu.Unlock()
	all := slices.Concat(ws, n.waiting)
	if drop := len(all) - n.cfg.MaxWaiting; drop > 0 {
		n.m.workouts.WithLabelValues("dropped").Add(float64(drop))
		all = all[drop:]
	}
	n.waiting = all
}

// receive hands another replica's workouts to the sink.
func (n *Notifier) receive(d amqp.Delivery) {
	if d.AppId == n.cfg.Replica || d.Type != messageType {
		return
	}
	var ws []workout.Workout
	if err := json.Unmarshal(d.Body, &ws); err != nil {
		n.m.workouts.WithLabelValues("dropped").Inc()
		n.log.Warn("undecodable announcement", "from", d.AppId, "error", err)
		return
	}
	received := 0
	for _, w := range ws {
		// Peers validated what they accepted; this only keeps a broken
		// message out of a user's view.
		if !workout.ValidID(w.ID) || w.UserID == "" {
			n.m.workouts.WithLabelValues("dropped").Inc()
			continue
		}
		n.cfg.Sink.Remember(w)
		received++
	}
	n.m.workouts.WithLabelValues("received").Add(float64(received))
}
