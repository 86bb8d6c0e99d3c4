package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// fakeChannel stands in for a confirm-mode channel: it records what was
// sent, in order, and the test decides each message's fate. Like
// amqp091-go, it hands a return to the tracker before the ack that
// follows it.
type fakeChannel struct {
	mu       sync.Mutex
	order    []string
	confirms map[string]*fakeConfirm
	sent     chan string
	returns  chan amqp.Return
	closed   atomic.Bool
	fail     error
}

type fakeConfirm struct {
	done  chan struct{}
	acked bool
}

func (c *fakeConfirm) Done() <-chan struct{} { return c.done }
func (c *fakeConfirm) Acked() bool           { return c.acked }

func newFakeChannel() *fakeChannel {
	return &fakeChannel{confirms: map[string]*fakeConfirm{}, sent: make(chan string, 1000), returns: make(chan amqp.Return)}
}

func (f *fakeChannel) send(m amqp.Publishing) (confirmation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	c := &fakeConfirm{done: make(chan struct{})}
	f.order = append(f.order, m.MessageId)
	f.confirms[m.MessageId] = c
	f.sent <- m.MessageId
	return c, nil
}

func (f *fakeChannel) settle(id string, ack bool) {
	f.mu.Lock()
	c := f.confirms[id]
	f.mu.Unlock()
	c.acked = ack
	close(c.done)
}

// returnThenAck is what the broker does with an unroutable mandatory
// message.
func (f *fakeChannel) returnThenAck(id string) {
	f.returns <- amqp.Return{MessageId: id}
	f.settle(id, true)
}

func (f *fakeChannel) lane(queue int) *lane {
	return newLane(f.send, f.closed.Load, newReturnTracker(f.returns), queue)
}

func msg(id string) amqp.Publishing { return amqp.Publishing{MessageId: id} }

// publishAll starts one caller per id and returns their results by id.
func publishAll(ctx context.Context, l *lane, ids []string) (wait func() map[string]error) {
	var mu sync.Mutex
	got := map[string]error{}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.publish(ctx, nil, msg(id))
			mu.Lock()
			got[id] = err
			mu.Unlock()
		}()
	}
	return func() map[string]error { wg.Wait(); return got }
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("m%03d", i)
	}
	return out
}

func waitSent(t *testing.T, f *fakeChannel, n int) {
	t.Helper()
	for range n {
		select {
		case <-f.sent:
		case <-time.After(10 * time.Second):
			t.Fatal("messages not sent")
		}
	}
}

func TestLaneEachCallerGetsItsOwnConfirm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name     string
		nacked   map[string]bool
		returned map[string]bool
	}{
		{name: "all acked"},
		{name: "one nack reaches only its caller", nacked: map[string]bool{"m007": true}},
		{name: "one return reaches only its caller", returned: map[string]bool{"m013": true}},
		{name: "a nack and a return among acks", nacked: map[string]bool{"m000": true}, returned: map[string]bool{"m031": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := ids(32)
			f := newFakeChannel()
			// The publisher's window bounds the messages queued or waiting
			// for their confirm, and sizes its lanes to hold them all.
			l := f.lane(len(all))
			defer l.close()
			wait := publishAll(ctx, l, all)
			waitSent(t, f, len(all))
			// Settle in the reverse of the sending order: each caller must
			// still get the answer to its own message.
			f.mu.Lock()
			order := append([]string(nil), f.order...)
			f.mu.Unlock()
			for i := len(order) - 1; i >= 0; i-- {
				id := order[i]
				switch {
				case tt.returned[id]:
					f.returnThenAck(id)
				default:
					f.settle(id, !tt.nacked[id])
				}
			}
			for id, err := range wait() {
				switch {
				case tt.nacked[id]:
					if !errors.Is(err, ErrNacked) {
						t.Errorf("%s: %v, want ErrNacked", id, err)
					}
				case tt.returned[id]:
					if !errors.Is(err, ErrReturned) {
						t.Errorf("%s: %v, want ErrReturned", id, err)
					}
				case err != nil:
					t.Errorf("%s: %v, want nil", id, err)
				}
			}
		})
	}
}

func TestLaneSendsInArrivalOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := newFakeChannel()
	l := f.lane(4)
	defer l.close()
	// One caller at a time: the writer must keep their order.
	all := ids(50)
	for _, id := range all {
		done := make(chan error, 1)
		go func() { done <- l.publish(ctx, nil, msg(id)) }()
		waitSent(t, f, 1)
		f.settle(id, true)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(f.order) != fmt.Sprint(all) {
		t.Errorf("sent %v, want %v", f.order, all)
	}
}

func TestLaneFailures(t *testing.T) {
	t.Run("send error is unavailable", func(t *testing.T) {
		f := newFakeChannel()
		f.fail = amqp.ErrClosed
		l := f.lane(1)
		defer l.close()
		if err := l.publish(context.Background(), nil, msg("a")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("publish = %v, want ErrUnavailable", err)
		}
	})
	t.Run("channel closed before the confirm is unavailable, not nacked", func(t *testing.T) {
		f := newFakeChannel()
		l := f.lane(1)
		defer l.close()
		done := make(chan error, 1)
		go func() { done <- l.publish(context.Background(), nil, msg("a")) }()
		waitSent(t, f, 1)
		f.closed.Store(true)
		f.settle("a", false)
		if err := <-done; !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNacked) {
			t.Errorf("publish = %v, want ErrUnavailable", err)
		}
	})
	t.Run("deadline while waiting for the confirm", func(t *testing.T) {
		f := newFakeChannel()
		l := f.lane(1)
		defer l.close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := l.publish(ctx, nil, msg("a")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("publish = %v, want ErrUnavailable", err)
		}
	})
	t.Run("stopped lane fails queued and later messages", func(t *testing.T) {
		f := newFakeChannel()
		block := make(chan struct{})
		var sends atomic.Int32
		l := newLane(func(m amqp.Publishing) (confirmation, error) {
			sends.Add(1)
			<-block
			return nil, amqp.ErrClosed
		}, f.closed.Load, newReturnTracker(f.returns), 8)
		wait := publishAll(context.Background(), l, ids(5))
		// The writer is stuck in its first send; the others queue.
		for sends.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		stopped := make(chan struct{})
		go func() { l.close(); close(stopped) }()
		close(block)
		<-stopped
		for id, err := range wait() {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s: %v, want ErrUnavailable", id, err)
			}
		}
		if err := l.publish(context.Background(), nil, msg("late")); !errors.Is(err, ErrUnavailable) {
			t.Errorf("publish after close = %v, want ErrUnavailable", err)
		}
		if n := sends.Load(); n < 1 || n > 5 {
			t.Errorf("%d sends", n)
		}
	})
}

// TestCloseWaitsForOutstandingConfirms runs a Publisher on a fake channel:
// Close must not return while a message waits for its confirm, and the
// message's caller gets the broker's answer.
func TestCloseWaitsForOutstandingConfirms(t *testing.T) {
	// Nothing listens on the dial address: the publisher keeps trying in
	// the background while the test installs its own session.
	p := New(Config{
		Dial:    amqpconn.Config{URL: "amqp://guest:guest@127.0.0.1:1/"},
		Backoff: backoff.Policy{Min: time.Hour, Max: time.Hour},
	})
	f := newFakeChannel()
	s := &session{lanes: []*lane{f.lane(8)}, lost: make(chan error, 1)}
	p.setCurrent(s)
	defer s.close()

	w := workout.Workout{ID: "0b7f8a4e-5d1c-4c63-9a39-2f4f5c1d2e3f"}
	published := make(chan error, 1)
	go func() { published <- p.Publish(context.Background(), w) }()
	waitSent(t, f, 1)

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		closed <- p.Close(ctx)
	}()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a confirm outstanding", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := p.Publish(context.Background(), w); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Publish while closing = %v, want ErrUnavailable", err)
	}
	f.settle(w.ID, true)
	if err := <-published; err != nil {
		t.Errorf("outstanding Publish = %v, want nil (acked)", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	p := New(Config{
		Dial:    amqpconn.Config{URL: "amqp://guest:guest@127.0.0.1:1/"},
		Backoff: backoff.Policy{Min: time.Hour, Max: time.Hour},
	})
	f := newFakeChannel()
	s := &session{lanes: []*lane{f.lane(8)}, lost: make(chan error, 1)}
	p.setCurrent(s)
	defer s.close()
	published := make(chan error, 1)
	go func() { published <- p.Publish(context.Background(), workout.Workout{ID: "x"}) }()
	waitSent(t, f, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err == nil {
		t.Error("Close = nil with a confirm never answered, want an error")
	}
	f.settle("x", false)
	if err := <-published; !errors.Is(err, ErrNacked) {
		t.Errorf("Publish = %v, want ErrNacked", err)
	}
}

// TestPublishWithinGivesUpAtItsTimeout: a message never confirmed is
// answered at the timeout as unavailable, like a ctx deadline; the timer,
// reused by the next call, does not cut that call short.
func TestPublishWithinGivesUpAtItsTimeout(t *testing.T) {
	p := New(Config{
		Dial:    amqpconn.Config{URL: "amqp://guest:guest@127.0.0.1:1/"},
		Backoff: backoff.Policy{Min: time.Hour, Max: time.Hour},
	})
	f := newFakeChannel()
	s := &session{lanes: []*lane{f.lane(8)}, lost: make(chan error, 1)}
	p.setCurrent(s)
	defer s.close()

	err := p.PublishWithin(context.Background(), workout.Workout{ID: "late"}, 50*time.Millisecond)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PublishWithin = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	f.settle("late", true)

	published := make(chan error, 1)
	go func() {
		published <- p.PublishWithin(context.Background(), workout.Workout{ID: "next"}, time.Hour)
	}()
	waitSent(t, f, 2)
	// Longer than the first call's timeout: a stale tick would end it now.
	time.Sleep(100 * time.Millisecond)
	f.settle("next", true)
	if err := <-published; err != nil {
		t.Errorf("PublishWithin after a timed-out call = %v, want nil (acked)", err)
	}
}
