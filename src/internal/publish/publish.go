package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Sentinel errors; Publish wraps exactly one of them.
var (
	// ErrUnavailable: no usable connection, the connection was lost before
	// the confirm arrived, the broker blocked publishers, or ctx ended.
	ErrUnavailable = errors.New("broker unavailable")
	// ErrReturned: the broker could not route the message to a queue.
	ErrReturned = errors.New("message returned by the broker as unroutable")
	// ErrNacked: the broker refused to take responsibility for the message.
	ErrNacked = errors.New("message nacked by the broker")
)

// errClosed is returned after Close; it is an ErrUnavailable.
var errClosed = fmt.Errorf("%w: publisher closed", ErrUnavailable)

// DefaultWindow is the default number of unconfirmed messages in flight.
const DefaultWindow = 1000

// DefaultChannels is the default number of publishing channels.
const DefaultChannels = 1

// Config configures a Publisher.
type Config struct {
	Dial amqpconn.Config
	// Window bounds the messages published and not yet confirmed, shared by
	// every caller (DefaultWindow when 0).
	Window int
	// Channels is the number of confirm-mode channels on the connection,
	// each with its own writer goroutine (DefaultChannels when 0).
	Channels int
	// Backoff spaces reconnection attempts (100 ms to 10 s by default).
	Backoff backoff.Policy
	Logger  *slog.Logger
	// Registry, when set, receives fitness_publisher_broker_connected,
	// which names the broker node the publisher is connected to.
	Registry prometheus.Registerer
}

// Publisher publishes workouts with publisher confirms. It is safe for
// concurrent use.
type Publisher struct {
	cfg    Config
	log    *slog.Logger
	window chan struct{}
	node   *amqpconn.NodeGauge

	mu   sync.RWMutex
	sess *session

	closing   atomic.Bool
	stop      context.CancelFunc
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error

	// timers bound PublishWithin: a stopped timer is reused, where a
	// context.WithTimeout per message allocated a child context and a
	// timer and registered them with the caller's context.
	timers sync.Pool
}

// New returns a Publisher that connects in the background and keeps
// reconnecting until Close.
func New(cfg Config) *Publisher {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Channels <= 0 {
		cfg.Channels = DefaultChannels
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial.ConnectionName == "" {
		cfg.Dial.ConnectionName = "fitness-web publisher"
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "publisher"),
		window: make(chan struct{}, cfg.Window),
		node: amqpconn.NewNodeGauge(cfg.Registry, "fitness_publisher_broker_connected",
			"1 for the broker node (address) the publisher is connected to."),
		stop:     cancel,
		loopDone: make(chan struct{}),
	}
	p.timers.New = func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	go p.run(ctx)
	return p
}

// Ready reports whether a message published now would reach the broker: a
// connection is open, the topology is declared and the broker is not
// blocking publishers.
func (p *Publisher) Ready() bool {
	s := p.current()
	return s != nil && !s.isClosed() && !s.blocked.Load()
}

// Broker is the address (host:port) of the node the publisher is connected
// to, or "" while it is not.
func (p *Publisher) Broker() string { return p.node.Current() }

// Publish sends w and waits for the broker's confirm. It returns nil only
// after an ack; otherwise an error wrapping ErrUnavailable, ErrReturned or
// ErrNacked. ctx bounds the whole call.
func (p *Publisher) Publish(ctx context.Context, w workout.Workout) error {
	return p.PublishWithin(ctx, w, 0)
}

// PublishWithin is Publish bounded by timeout as well as by ctx (timeout
// <= 0: by ctx alone). When the timeout passes first, the error wraps
// ErrUnavailable and context.DeadlineExceeded, as Publish's would with a
// ctx from context.WithTimeout; the bound costs a reused timer instead of
// a context per message, which the web app's every POST paid.
func (p *Publisher) PublishWithin(ctx context.Context, w workout.Workout, timeout time.Duration) error {
	var expired <-chan time.Time
	if timeout > 0 {
		t := p.timers.Get().(*time.Timer)
		// Since Go 1.23 Stop and Reset leave no stale tick in t.C, so a
		// reused timer fires only for this call.
		t.Reset(timeout)
		defer func() {
			t.Stop()
			p.timers.Put(t)
		}()
		expired = t.C
	}
	if p.closing.Load() {
		return errClosed
	}
	// A workout is a few hundred bytes: one allocation, and no reflection.
	body, err := workout.AppendJSON(make([]byte, 0, 512), w)
	if err != nil {
		return fmt.Errorf("encode workout %s: %w", w.ID, err)
	}
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for a confirm window slot: %w", ErrUnavailable, ctx.Err())
	case <-expired:
		return fmt.Errorf("%w: waiting for a confirm window slot: %w", ErrUnavailable, context.DeadlineExceeded)
	}
	defer func() { <-p.window }()

	s := p.current()
	if s == nil || s.isClosed() {
		return fmt.Errorf("%w: not connected", ErrUnavailable)
	}
	if s.blocked.Load() {
		return fmt.Errorf("%w: broker is blocking publishers", ErrUnavailable)
	}
	return s.lane().publish(ctx, expired, amqp.Publishing{
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    w.ID,
		Timestamp:    time.Now().UTC(),
		Type:         "workout.logged",
		AppId:        "fitness-web",
		Body:         body,
	})
}

// Close stops accepting messages, waits until every message in flight got
// its confirm (or ctx ends), then closes the connection.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closing.Store(true)
		// Taking every window slot means no Publish is in flight.
		var waitErr error
		for i := 0; i < cap(p.window); i++ {
			select {
			case p.window <- struct{}{}:
			case <-ctx.Done():
				waitErr = fmt.Errorf("wait for outstanding confirms: %w", ctx.Err())
			}
			if waitErr != nil {
				break
			}
		}
		p.stop()
		<-p.loopDone
		p.closeErr = waitErr
	})
	return p.closeErr
}

func (p *Publisher) current() *session {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sess
}

func (p *Publisher) setCurrent(s *session) {
	p.mu.Lock()
	p.sess = s
	p.mu.Unlock()
}

// run connects, waits for the connection to be lost, and reconnects with
// backoff until ctx ends.
func (p *Publisher) run(ctx context.Context) {
	defer close(p.loopDone)
	attempt := 0
	for {
		s, err := p.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("connect to rabbitmq failed", "attempt", attempt+1, "error", err)
			if !p.cfg.Backoff.Sleep(ctx, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		p.setCurrent(s)
		addr := s.conn.RemoteAddr().String()
		p.node.Set(addr)
		p.log.Info("publisher connected", "broker", addr)
		select {
		case <-ctx.Done():
			p.node.Clear()
			p.setCurrent(nil)
			if err := s.close(); err != nil {
				p.log.Warn("closing publisher connection", "error", err)
			}
			return
		case err := <-s.lost:
			p.node.Clear()
			p.setCurrent(nil)
			if err := s.close(); err != nil {
				p.log.Debug("closing lost publisher connection", "error", err)
			}
			p.log.Warn("publisher connection lost; reconnecting", "broker", addr, "error", err)
		}
	}
}

func (p *Publisher) connect(ctx context.Context) (*session, error) {
	cfg := p.cfg.Dial
	wrap := cfg.WrapConn
	cfg.WrapConn = func(c net.Conn) net.Conn {
		if wrap != nil {
			c = wrap(c)
		}
		return newBatchConn(c)
	}
	conn, err := amqpconn.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s, err := newSession(conn, p.cfg.Channels, p.cfg.Window)
	if err != nil {
		return nil, errors.Join(err, conn.Close())
	}
	return s, nil
}
