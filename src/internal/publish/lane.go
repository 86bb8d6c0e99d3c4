package publish

import (
	"context"
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// confirmation is the broker's answer to one message: Done closes when the
// ack or nack arrived (or the channel closed), then Acked tells which.
// *amqp.DeferredConfirmation is one.
type confirmation interface {
	Done() <-chan struct{}
	Acked() bool
}

// sendFunc publishes one message on a confirm-mode channel and returns its
// pending confirmation.
type sendFunc func(amqp.Publishing) (confirmation, error)

// errLaneStopped answers requests still queued when a lane stops: they were
// never sent.
var errLaneStopped = errors.New("channel closed before the message was sent")

// lane is one confirm-mode channel and the one goroutine that publishes on
// it. Callers queue their message and wait for its confirmation; the writer
// publishes queued messages back to back, in arrival order, so concurrent
// requests never hand the channel's locks to each other (a parked goroutine
// woken for each publish was the bottleneck of a shared channel).
type lane struct {
	send    sendFunc
	closed  func() bool
	returns *returnTracker
	reqs    chan *request
	stop    chan struct{}
	exited  chan struct{}
}

type request struct {
	msg   amqp.Publishing
	reply chan sent
}

type sent struct {
	c   confirmation
	err error
}

// newLane starts the writer; queue bounds the requests waiting for it.
func newLane(send sendFunc, closed func() bool, returns *returnTracker, queue int) *lane {
	l := &lane{
		send:    send,
		closed:  closed,
		returns: returns,
		reqs:    make(chan *request, queue),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	go l.run()
	return l
}

func (l *lane) run() {
	defer close(l.exited)
	for {
		select {
		case r := <-l.reqs:
			c, err := l.send(r.msg)
			r.reply <- sent{c: c, err: err}
		case <-l.stop:
			// Whatever is still queued was never sent.
			for {
				select {
				case r := <-l.reqs:
					r.reply <- sent{err: errLaneStopped}
				default:
					return
				}
			}
		}
	}
}

// close stops the writer and waits for it; queued messages fail.
func (l *lane) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.exited
}

// publish sends msg through the writer and waits for the broker's answer:
// nil only after an ack of a message that was not returned.
func (l *lane) publish(ctx context.Context, msg amqp.Publishing) error {
	r := &request{msg: msg, reply: make(chan sent, 1)}
	select {
	case l.reqs <- r:
	case <-l.exited:
		return fmt.Errorf("%w: %w", ErrUnavailable, errLaneStopped)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting to publish workout %s: %w", ErrUnavailable, msg.MessageId, ctx.Err())
	}
	var s sent
	select {
	case s = <-r.reply:
	case <-l.exited:
		// The writer answers every request it took before it exits; a
		// request queued after its last look was never sent.
		select {
		case s = <-r.reply:
		default:
			s.err = errLaneStopped
		}
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting to publish workout %s: %w", ErrUnavailable, msg.MessageId, ctx.Err())
	}
	if s.err != nil {
		return fmt.Errorf("%w: publish workout %s: %w", ErrUnavailable, msg.MessageId, s.err)
	}
	select {
	case <-s.c.Done():
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the confirm of workout %s: %w", ErrUnavailable, msg.MessageId, ctx.Err())
	}
	if !s.c.Acked() {
		if l.closed() {
			return fmt.Errorf("%w: connection lost before the confirm of workout %s", ErrUnavailable, msg.MessageId)
		}
		return fmt.Errorf("%w: workout %s", ErrNacked, msg.MessageId)
	}
	if l.returns.take(msg.MessageId) {
		return fmt.Errorf("%w: workout %s", ErrReturned, msg.MessageId)
	}
	return nil
}

// channelSender publishes on ch (in confirm mode) to the workouts exchange,
// mandatory.
func channelSender(ch *amqp.Channel, exchange, key string) sendFunc {
	return func(msg amqp.Publishing) (confirmation, error) {
		dc, err := ch.PublishWithDeferredConfirm(exchange, key, true, false, msg)
		if err != nil {
			return nil, err
		}
		if dc == nil {
			// Cannot happen on a channel in confirm mode; never report an
			// unconfirmed message as a success.
			return nil, errors.New("channel not in confirm mode")
		}
		return dc, nil
	}
}
