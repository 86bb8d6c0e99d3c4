// Package consumerfleet runs workout consumers as child processes that a
// fault test kills: with SIGKILL at any moment, or armed to die right after
// their next batch write and before its acknowledgement, the moment a
// crash must not turn into a lost or duplicated workout. A killed consumer
// is started again after a short delay, as Kubernetes restarts a pod.
//
// A child is the test binary itself, run again with settings in its
// environment; the test package's TestMain hands it over first:
//
//	func TestMain(m *testing.M) {
//		consumerfleet.RunIfChild() // never returns in a child
//		...
//	}
//
//	f, err := consumerfleet.Start(ctx, consumerfleet.Config{AMQP: url, MongoURI: uri, Database: name, Replicas: 3})
//	f.Kill(1)           // SIGKILL now
//	f.KillAfterWrite(2) // SIGKILL after its next write, before the ack
//	f.Stop()            // SIGTERM every child, wait
package consumerfleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/consumer"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Environment of a child.
const (
	envChild    = "CONSUMERFLEET_CHILD"
	envAMQP     = "CONSUMERFLEET_AMQP_URLS"
	envMongoURI = "CONSUMERFLEET_MONGODB_URI"
	envDatabase = "CONSUMERFLEET_MONGODB_DATABASE"
)

// armSignal arms a child to die after its next successful write.
const armSignal = syscall.SIGUSR1

// dyingMark is what an armed child prints before it kills itself.
const dyingMark = "consumerfleet: wrote a batch, dying before its ack"

// Config configures a fleet.
type Config struct {
	// AMQP are the broker's addresses (one or a cluster's nodes).
	AMQP     []string
	MongoURI string
	Database string
	// Replicas is the number of consumers (3 when 0).
	Replicas int
	// RestartAfter is how long a killed consumer stays down (500 ms when 0).
	RestartAfter time.Duration
	// Logger receives the children's output and the fleet's events
	// (discarded when nil).
	Logger *slog.Logger
}

// Fleet is a set of consumer processes, each restarted when it dies.
type Fleet struct {
	cfg  Config
	exe  string
	log  *slog.Logger
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu    sync.Mutex
	procs []*os.Process // current process of each slot; nil while down

	kills, armedKills, armedDeaths, starts atomic.Int64
}

// Stats counts what happened to the fleet.
type Stats struct {
	// Kills are SIGKILLs sent at a random moment.
	Kills int
	// Armed are consumers armed to die after a write; ArmedDeaths of them
	// did (the others were killed otherwise, or stopped, first).
	Armed, ArmedDeaths int
	// Starts counts consumer processes started, the first ones included.
	Starts int
}

// Start starts cfg.Replicas consumers; they keep being restarted until
// Stop or ctx ends.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	if len(cfg.AMQP) == 0 || cfg.MongoURI == "" || cfg.Database == "" {
		return nil, errors.New("consumerfleet: broker addresses, mongodb uri and database are required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 3
	}
	if cfg.RestartAfter <= 0 {
		cfg.RestartAfter = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("consumerfleet: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{cfg: cfg, exe: exe, log: cfg.Logger.With("component", "consumerfleet"), stop: cancel, procs: make([]*os.Process, cfg.Replicas)}
	for i := range cfg.Replicas {
		f.wg.Add(1)
		go f.supervise(ctx, i)
	}
	return f, nil
}

// supervise keeps slot i running until ctx ends.
func (f *Fleet) supervise(ctx context.Context, i int) {
	defer f.wg.Done()
	for ctx.Err() == nil {
		out := &logWriter{log: f.log.With("consumer", i)}
		cmd := exec.Command(f.exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envAMQP+"="+strings.Join(f.cfg.AMQP, ","),
			envMongoURI+"="+f.cfg.MongoURI, envDatabase+"="+f.cfg.Database)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			f.log.Error("start consumer", "consumer", i, "error", err)
		} else {
			f.starts.Add(1)
			f.setProc(i, cmd.Process)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case err := <-exited:
				f.setProc(i, nil)
				if out.sawDying() {
					f.armedDeaths.Add(1)
				}
				f.log.Info("consumer exited", "consumer", i, "status", err)
			case <-ctx.Done():
				// Shutdown: SIGTERM lets it finish the batch in hand.
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(15 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
				f.setProc(i, nil)
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.cfg.RestartAfter):
		}
	}
}

func (f *Fleet) setProc(i int, p *os.Process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procs[i] = p
}

func (f *Fleet) proc(i int) (*os.Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < 0 || i >= len(f.procs) {
		return nil, fmt.Errorf("consumerfleet: no consumer %d (have %d)", i, len(f.procs))
	}
	if f.procs[i] == nil {
		return nil, fmt.Errorf("consumerfleet: consumer %d is down", i)
	}
	return f.procs[i], nil
}

// Replicas is the number of consumer slots.
func (f *Fleet) Replicas() int { return f.cfg.Replicas }

// Kill sends SIGKILL to consumer i now.
func (f *Fleet) Kill(i int) error {
	p, err := f.proc(i)
	if err != nil {
		return err
	}
	if err := p.Kill(); err != nil {
		return fmt.Errorf("consumerfleet: kill consumer %d: %w", i, err)
	}
	f.kills.Add(1)
	return nil
}

// KillAfterWrite makes consumer i kill itself right after its next
// successful batch write, before it acknowledges the batch.
func (f *Fleet) KillAfterWrite(i int) error {
	p, err := f.proc(i)
	if err != nil {
		return err
	}
	if err := p.Signal(armSignal); err != nil {
		return fmt.Errorf("consumerfleet: arm consumer %d: %w", i, err)
	}
	f.armedKills.Add(1)
	return nil
}

// Stats returns the counts so far.
func (f *Fleet) Stats() Stats {
	return Stats{Kills: int(f.kills.Load()), Armed: int(f.armedKills.Load()), ArmedDeaths: int(f.armedDeaths.Load()), Starts: int(f.starts.Load())}
}

// Stop stops every consumer (SIGTERM, then SIGKILL after 15 s) and waits.
func (f *Fleet) Stop() {
	f.stop()
	f.wg.Wait()
}

// logWriter forwards a child's output lines to the log and notes whether
// the child announced an armed death.
type logWriter struct {
	log   *slog.Logger
	mu    sync.Mutex
	buf   []byte
	dying bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if line == dyingMark {
			w.dying = true
		}
		w.log.Info("consumer output", "line", line)
	}
}

func (w *logWriter) sawDying() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dying
}

// RunIfChild runs a fleet consumer and exits when this process is one;
// otherwise it returns at once. Call it first in TestMain.
func RunIfChild() {
	if os.Getenv(envChild) == "" {
		return
	}
	if err := runChild(); err != nil {
		fmt.Fprintln(os.Stderr, "consumerfleet child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runChild() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	armed := &atomic.Bool{}
	arm := make(chan os.Signal, 1)
	signal.Notify(arm, armSignal)
	go func() {
		for range arm {
			armed.Store(true)
		}
	}()
	client, err := store.Connect(store.Config{URI: os.Getenv(envMongoURI), ServerSelectionTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := client.Disconnect(dctx); err != nil {
			logger.Warn("disconnect from mongodb", "error", err)
		}
	}()
	c, err := consumer.New(consumer.Config{
		Dial:      amqpconn.Config{URLs: strings.Split(os.Getenv(envAMQP), ",")},
		Store:     armedStore{next: store.NewWriter(client.Database(os.Getenv(envDatabase))), armed: armed},
		Reconnect: backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second},
		Retry:     backoff.Policy{Min: 100 * time.Millisecond, Max: time.Second},
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// armedStore writes through next and, once armed, kills the process right
// after a successful write: the consumer acknowledges a batch only after
// InsertBatch returned, so the batch is written and never acknowledged.
type armedStore struct {
	next  consumer.Store
	armed *atomic.Bool
}

func (s armedStore) InsertBatch(ctx context.Context, ws []workout.Workout) (store.Result, error) {
	res, err := s.next.InsertBatch(ctx, ws)
	if err == nil && s.armed.Load() {
		fmt.Fprintln(os.Stderr, dyingMark)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL cannot be caught; wait for it
	}
	return res, err
}
