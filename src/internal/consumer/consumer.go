// Package consumer persists logged workouts from RabbitMQ into MongoDB.
//
// A Consumer owns one connection with two channels: one consuming the
// workouts queue with manual acknowledgements and a bounded prefetch, one in
// confirm mode for dead-lettering. Deliveries are gathered into batches (up
// to BatchSize, or BatchWait after the first) and written with one unordered
// InsertMany; the batch is then acknowledged with a single multiple ack.
// Because the workout id is the document id and a duplicate key counts as
// persisted, a redelivery never stores a workout twice, and every message
// keeps its own fate inside a batch:
//
//   - malformed or invalid: republished to the dead-letter exchange with the
//     reason in the x-rejected-reason header (confirmed), then acknowledged;
//     if that republish fails, nacked without requeue so that the broker
//     dead-letters it (the reason is then in the log);
//   - refused by the database for good: dead-lettered the same way;
//   - database unreachable: the batch is held and the write retried with
//     backoff; nothing is acknowledged, nacked or requeued meanwhile, so the
//     queue's delivery limit is not spent, and the prefetch bound stops the
//     broker from sending more: consumption pauses until the database is back.
//
// The consumer reconnects with backoff and jitter after losing its
// connection or channel, or after the broker cancelled it (queue deleted),
// and declares the topology again each time.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Store is where batches go; *store.Writer implements it.
type Store interface {
	InsertBatch(ctx context.Context, ws []workout.Workout) (store.Result, error)
}

// Defaults.
const (
	DefaultPrefetch = 500
	// DefaultBatchSize: batches of 500 keep the write rate within 20% of
	// InsertMany's of 1,000 (fitbench's persist ratio 0.80-1.01, against
	// 0.71-0.78 with 250), and a consumer killed mid-batch sends at most
	// its prefetch (1,000) back, absorbed by the _id.
	DefaultBatchSize = 500
	DefaultBatchWait = 20 * time.Millisecond
)

// Config configures a Consumer.
type Config struct {
	Dial  amqpconn.Config
	Store Store
	// Prefetch bounds unacknowledged deliveries (DefaultPrefetch). It should
	// be at least twice BatchSize so that one batch fills while the
	// previous one is written.
	Prefetch int
	// BatchSize and BatchWait bound a batch (DefaultBatchSize,
	// DefaultBatchWait).
	BatchSize int
	BatchWait time.Duration
	// WriteTimeout bounds one write attempt (default 15 s).
	WriteTimeout time.Duration
	// Reconnect spaces broker reconnections (100 ms to 10 s by default);
	// Retry spaces write retries while the database is down (100 ms to 5 s).
	Reconnect backoff.Policy
	Retry     backoff.Policy
	// ShutdownGrace is how long a shutdown lets the batch being written
	// finish (default 10 s); whatever is left unacknowledged is redelivered.
	ShutdownGrace time.Duration
	Metrics       *Metrics
	Logger        *slog.Logger
	Now           func() time.Time
}

// Consumer consumes the workouts queue. Create it with New and call Run.
type Consumer struct {
	cfg Config
	log *slog.Logger
	m   *Metrics

	consuming atomic.Bool
	sessions  atomic.Int64

	// afterWrite, when set (tests only), runs after a batch was written and
	// before it is acknowledged.
	afterWrite func(n int)
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Consumer, error) {
	if cfg.Store == nil {
		return nil, errors.New("consumer: no store")
	}
	if cfg.Dial.URL == "" && len(cfg.Dial.URLs) == 0 {
		return nil, errors.New("consumer: no amqp url")
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = max(DefaultPrefetch, 2*cfg.BatchSize)
	}
	if cfg.BatchSize > cfg.Prefetch {
		cfg.BatchSize = cfg.Prefetch
	}
	if cfg.BatchWait <= 0 {
		cfg.BatchWait = DefaultBatchWait
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 15 * time.Second
	}
	if cfg.Retry == (backoff.Policy{}) {
		cfg.Retry = backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Dial.ConnectionName == "" {
		host, _ := os.Hostname()
		cfg.Dial.ConnectionName = "fitness-consumer " + host
	}
	return &Consumer{cfg: cfg, log: cfg.Logger.With("component", "consumer"), m: cfg.Metrics}, nil
}

// Ready reports whether the consumer is consuming from the broker.
func (c *Consumer) Ready() bool { return c.consuming.Load() }

// Run consumes until ctx ends, reconnecting as needed. It returns nil after
// a clean shutdown.
func (c *Consumer) Run(ctx context.Context) error {
	attempt := 0
	for {
		consumed, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if consumed {
			attempt = 0
		}
		c.log.Warn("broker session ended; reconnecting", "error", err, "attempt", attempt+1)
		if !c.cfg.Reconnect.Sleep(ctx, attempt) {
			return nil
		}
		attempt++
	}
}

// session is one connection to the broker.
type session struct {
	conn *amqp.Connection
	ch   *amqp.Channel // consuming
	dlx  *amqp.Channel // confirm mode, dead-lettering
	tag  string
}

// runSession connects, consumes until the session ends, and reports
// whether it got as far as consuming.
func (c *Consumer) runSession(ctx context.Context) (bool, error) {
	s, err := c.open(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		if err := s.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			c.log.Debug("close connection", "error", err)
		}
	}()
	// Not ConsumeWithContext: a shutdown cancels the consumer itself, after
	// handing the batch in hand to the writer.
	deliveries, err := s.ch.Consume(topology.Queue, s.tag, false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", topology.Queue, err)
	}
	if c.sessions.Add(1) > 1 {
		c.m.Reconnects.Inc()
	}
	addr := s.conn.RemoteAddr().String()
	c.consuming.Store(true)
	c.m.Connected.Set(1)
	c.m.Broker.Set(addr)
	defer func() {
		c.consuming.Store(false)
		c.m.Connected.Set(0)
		c.m.Broker.Clear()
	}()
	c.log.Info("consuming", "queue", topology.Queue, "broker", addr, "tag", s.tag, "prefetch", c.cfg.Prefetch, "batch", c.cfg.BatchSize)
	return true, c.consume(ctx, s, deliveries)
}

func (c *Consumer) open(ctx context.Context) (*session, error) {
	conn, err := amqpconn.Dial(ctx, c.cfg.Dial)
	if err != nil {
		return nil, err
	}
	s := &session{conn: conn, tag: fmt.Sprintf("fitness-consumer-%d-%d", os.Getpid(), c.sessions.Load()+1)}
	fail := func(err error) (*session, error) {
		return nil, errors.Join(err, conn.Close())
	}
	if s.ch, err = conn.Channel(); err != nil {
		return fail(fmt.Errorf("open channel: %w", err))
	}
	if err := topology.Declare(s.ch); err != nil {
		return fail(err)
	}
	if err := s.ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return fail(fmt.Errorf("set prefetch: %w", err))
	}
	if s.dlx, err = conn.Channel(); err != nil {
		return fail(fmt.Errorf("open dead-letter channel: %w", err))
	}
	if err := s.dlx.Confirm(false); err != nil {
		return fail(fmt.Errorf("enable confirms on the dead-letter channel: %w", err))
	}
	return s, nil
}

// item is one delivery and, when it is valid, its workout.
type item struct {
	d      amqp.Delivery
	w      workout.Workout
	reason string // why it is invalid; "" when valid
}

type batch struct {
	items []item
}

// errCancelled reports a server-side consumer cancel.
var errCancelled = errors.New("consumer cancelled by the broker")

// consume gathers deliveries into batches and hands them to the writer
// until the session ends.
func (c *Consumer) consume(ctx context.Context, s *session, deliveries <-chan amqp.Delivery) error {
	connClosed := s.conn.NotifyClose(make(chan *amqp.Error, 1))
	chClosed := s.ch.NotifyClose(make(chan *amqp.Error, 1))
	dlxClosed := s.dlx.NotifyClose(make(chan *amqp.Error, 1))
	cancelled := s.ch.NotifyCancel(make(chan string, 1))

	// The writer runs on its own context so that a shutdown lets the batch
	// in hand finish within ShutdownGrace.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	wr := &writer{batches: make(chan *batch), done: make(chan error, 1), cancel: wcancel}
	go func() { wr.done <- c.writeLoop(wctx, s, wr.batches) }()

	cur := &batch{}
	var timer <-chan time.Time
	var sessionErr error

	// send hands cur to the writer; it blocks while the writer is busy (or
	// paused by a database outage), which stops reading deliveries.
	send := func() bool {
		if len(cur.items) == 0 {
			return true
		}
		select {
		case wr.batches <- cur:
			cur, timer = &batch{}, nil
			return true
		case err := <-wr.done:
			sessionErr = wr.exited(err)
		case e, ok := <-connClosed:
			sessionErr = closeReason("connection", e, ok)
		case e, ok := <-chClosed:
			sessionErr = closeReason("channel", e, ok)
		case <-ctx.Done():
		}
		return false
	}

	for {
		select {
		case d, ok := <-deliveries:
			if !ok && ctx.Err() != nil {
				return c.shutdown(s, cur, wr)
			}
			if !ok {
				// Cancelled by the broker, or the channel closed: write what
				// is in hand if the channel still lets us ack it.
				var err error = errCancelled
				select {
				case tag := <-cancelled:
					err = fmt.Errorf("%w (tag %s)", errCancelled, tag)
				default:
					if s.ch.IsClosed() {
						err = errors.New("channel closed")
					}
				}
				if !s.ch.IsClosed() && send() {
					return errors.Join(err, wr.stop(c.cfg.ShutdownGrace))
				}
				return errors.Join(err, sessionErr, wr.stop(0))
			}
			c.m.Consumed.Inc()
			cur.items = append(cur.items, c.decode(d))
			if len(cur.items) >= c.cfg.BatchSize {
				if !send() {
					return c.endSession(ctx, sessionErr, wr)
				}
			} else if timer == nil {
				timer = time.After(c.cfg.BatchWait)
			}
		case <-timer:
			timer = nil
			if !send() {
				return c.endSession(ctx, sessionErr, wr)
			}
		case err := <-wr.done:
			return errors.Join(wr.exited(err), wr.stop(0))
		case e, ok := <-connClosed:
			return errors.Join(closeReason("connection", e, ok), wr.stop(0))
		case e, ok := <-chClosed:
			return errors.Join(closeReason("channel", e, ok), wr.stop(0))
		case e, ok := <-dlxClosed:
			return errors.Join(closeReason("dead-letter channel", e, ok), wr.stop(0))
		case <-ctx.Done():
			return c.shutdown(s, cur, wr)
		}
	}
}

// writer is the handle of the goroutine that writes and acknowledges
// batches.
type writer struct {
	batches chan *batch
	done    chan error
	cancel  context.CancelFunc
	closed  bool
	gone    bool
}

// exited records that the writer returned err, and describes it.
func (w *writer) exited(err error) error {
	w.gone = true
	if err == nil {
		return errors.New("writer stopped")
	}
	return fmt.Errorf("writer stopped: %w", err)
}

// stop hands over nothing more and waits for the writer, at most grace (0:
// stop it at once). It returns the writer's error unless exited reported
// it already.
func (w *writer) stop(grace time.Duration) error {
	if !w.closed {
		close(w.batches)
		w.closed = true
	}
	if w.gone {
		return nil
	}
	w.gone = true
	if grace > 0 {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case err := <-w.done:
			return err
		case <-t.C:
		}
	}
	w.cancel()
	err := <-w.done
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// endSession ends a session after send failed.
func (c *Consumer) endSession(ctx context.Context, err error, wr *writer) error {
	if ctx.Err() != nil {
		// Shutting down while the writer is busy: let it finish its batch.
		return errors.Join(err, wr.stop(c.cfg.ShutdownGrace))
	}
	return errors.Join(err, wr.stop(0))
}

// shutdown stops the broker from sending more, lets the writer finish the
// batch in hand within ShutdownGrace, and leaves the rest unacknowledged
// for redelivery when the connection closes.
func (c *Consumer) shutdown(s *session, cur *batch, wr *writer) error {
	c.log.Info("shutting down consumer")
	if err := s.ch.Cancel(s.tag, false); err != nil {
		c.log.Warn("cancel consumer", "error", err)
	}
	if len(cur.items) > 0 {
		t := time.NewTimer(c.cfg.ShutdownGrace)
		select {
		case wr.batches <- cur:
		case err := <-wr.done:
			t.Stop()
			return errors.Join(wr.exited(err), wr.stop(0))
		case <-t.C:
		}
		t.Stop()
	}
	return wr.stop(c.cfg.ShutdownGrace)
}

func closeReason(what string, e *amqp.Error, ok bool) error {
	if !ok || e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}

// decode turns a delivery into an item, recording why it is invalid.
func (c *Consumer) decode(d amqp.Delivery) item {
	it := item{d: d}
	if d.ContentType != "" && d.ContentType != "application/json" {
		it.reason = fmt.Sprintf("content type %q is not application/json", d.ContentType)
		return it
	}
	w, err := workout.DecodeBytes(d.Body)
	if err != nil {
		it.reason = err.Error()
		return it
	}
	if err := w.Validate(c.cfg.Now()); err != nil {
		it.reason = err.Error()
		return it
	}
	if d.MessageId != "" && d.MessageId != w.ID {
		it.reason = fmt.Sprintf("message id %q differs from workout id %q", d.MessageId, w.ID)
		return it
	}
	it.w = w
	return it
}
