package publish

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/topology"
)

// session is one connection with one or more confirm-mode channels, each
// with its writer (a lane).
type session struct {
	conn    *amqp.Connection
	lanes   []*lane
	next    atomic.Uint32
	blocked atomic.Bool
	// lost receives once when the connection or a channel closes.
	lost      chan error
	closeOnce sync.Once
}

// newSession declares the topology and opens `channels` confirm-mode
// channels on conn, each serving at most queue waiting requests.
func newSession(conn *amqp.Connection, channels, queue int) (*session, error) {
	s := &session{conn: conn, lost: make(chan error, 1)}
	closed := make(chan error, channels+1)
	for i := range channels {
		ch, err := conn.Channel()
		if err != nil {
			s.closeLanes()
			return nil, fmt.Errorf("open channel: %w", err)
		}
		if i == 0 {
			if err := topology.Declare(ch); err != nil {
				s.closeLanes()
				return nil, err
			}
		}
		if err := ch.Confirm(false); err != nil {
			s.closeLanes()
			return nil, fmt.Errorf("enable publisher confirms: %w", err)
		}
		// Unbuffered on purpose: the library hands a return over before it
		// processes the ack that follows it; see returnTracker.
		returns := newReturnTracker(ch.NotifyReturn(make(chan amqp.Return)))
		chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
		go func() {
			e, ok := <-chClosed
			closed <- closeReason("channel", e, ok)
		}()
		isClosed := func() bool { return ch.IsClosed() || conn.IsClosed() }
		s.lanes = append(s.lanes, newLane(channelSender(ch, topology.Exchange, topology.RoutingKey), isClosed, returns, queue))
	}
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	go func() {
		e, ok := <-connClosed
		closed <- closeReason("connection", e, ok)
	}()
	go func() { s.lost <- <-closed }()
	go func() {
		for b := range blocked {
			s.blocked.Store(b.Active)
		}
	}()
	return s, nil
}

// lane picks the channel for the next message, round robin.
func (s *session) lane() *lane {
	if len(s.lanes) == 1 {
		return s.lanes[0]
	}
	return s.lanes[int(s.next.Add(1))%len(s.lanes)]
}

func (s *session) closeLanes() {
	for _, l := range s.lanes {
		l.close()
	}
}

func closeReason(what string, e *amqp.Error, ok bool) error {
	if !ok || e == nil {
		return fmt.Errorf("%s closed", what)
	}
	return fmt.Errorf("%s closed: %w", what, e)
}

func (s *session) isClosed() bool {
	for _, l := range s.lanes {
		if l.closed() {
			return true
		}
	}
	return false
}

// close stops the writers (queued messages fail: they were never sent) and
// closes the connection; closing one that the broker already closed is not
// an error.
func (s *session) close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closeLanes()
		if s.conn == nil {
			return
		}
		if e := s.conn.Close(); e != nil && !errors.Is(e, amqp.ErrClosed) {
			err = fmt.Errorf("close rabbitmq connection: %w", e)
		}
	})
	return err
}

// returnTracker records the message ids the broker returned as unroutable.
//
// The broker sends basic.return before the basic.ack of the same message,
// and amqp091-go dispatches both from one reader goroutine, handing the
// return to an unbuffered listener before it processes the ack. One
// goroutine owns the record: by the time a lane that saw the acks asks it,
// it has finished recording every return received before those acks.
type returnTracker struct {
	reqs   chan takeReq
	exited chan struct{}
	mu     sync.Mutex
	ids    map[string]int
}

type takeReq struct {
	ids   []string
	reply chan map[string]int
}

func newReturnTracker(returns <-chan amqp.Return) *returnTracker {
	t := &returnTracker{
		reqs:   make(chan takeReq),
		exited: make(chan struct{}),
		ids:    map[string]int{},
	}
	go t.loop(returns)
	return t
}

func (t *returnTracker) loop(returns <-chan amqp.Return) {
	defer close(t.exited)
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				return
			}
			t.mu.Lock()
			t.ids[r.MessageId]++
			t.mu.Unlock()
		case req := <-t.reqs:
			req.reply <- t.takeLocked(req.ids)
		}
	}
}

// takeLocked consumes one record per occurrence of an id in ids and returns
// how many of each it found (nil when none).
func (t *returnTracker) takeLocked(ids []string) map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ids) == 0 {
		return nil
	}
	var out map[string]int
	for _, id := range ids {
		n := t.ids[id]
		if n == 0 {
			continue
		}
		if n == 1 {
			delete(t.ids, id)
		} else {
			t.ids[id] = n - 1
		}
		if out == nil {
			out = map[string]int{}
		}
		out[id]++
	}
	return out
}

// takeAll reports which of the acked messages ids were returned, consuming
// one record per occurrence, in one round trip for the whole batch.
func (t *returnTracker) takeAll(ids []string) map[string]int {
	if len(ids) == 0 {
		return nil
	}
	req := takeReq{ids: ids, reply: make(chan map[string]int, 1)}
	select {
	case t.reqs <- req:
		return <-req.reply
	case <-t.exited:
		// The channel closed; every return it delivered is recorded.
		return t.takeLocked(ids)
	}
}
