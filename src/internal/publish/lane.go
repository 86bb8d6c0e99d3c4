package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

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

// lane is one confirm-mode channel with two goroutines: a writer that
// publishes the queued messages back to back, in arrival order, so that
// concurrent requests never hand the channel's locks to each other (a
// parked goroutine woken for each publish was the bottleneck of a shared
// channel), and a confirmer that answers each caller once its message's
// confirmation is in. A caller is woken once per message, and the
// confirmer settles every confirmation that arrived together (the broker
// acks many at once) with one look at the returned messages.
type lane struct {
	send    sendFunc
	closed  func() bool
	returns *returnTracker
	reqs    chan *request
	// sent holds the published messages in publishing order, which is the
	// order the broker confirms them in.
	sent   chan *request
	stop   chan struct{}
	exited chan struct{}
}

type request struct {
	msg amqp.Publishing
	c   confirmation
	// reply is buffered: the lane never waits for a caller that gave up.
	reply chan error
}

// maxSettle bounds the confirmations settled together.
const maxSettle = 256

// newLane starts the writer and the confirmer. queue is how many requests
// the lane holds, queued or waiting for their confirm: the publisher's
// window, which bounds them all (a lane holding fewer would stop its
// writer until confirms came in).
func newLane(send sendFunc, closed func() bool, returns *returnTracker, queue int) *lane {
	l := &lane{
		send:    send,
		closed:  closed,
		returns: returns,
		reqs:    make(chan *request, queue),
		sent:    make(chan *request, queue),
		stop:    make(chan struct{}),
		exited:  make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		l.write()
	}()
	go func() {
		defer wg.Done()
		l.confirm()
	}()
	go func() {
		wg.Wait()
		close(l.exited)
	}()
	return l
}

// write publishes queued messages until the lane stops; whatever is still
// queued then was never sent.
func (l *lane) write() {
	defer close(l.sent)
	for {
		select {
		case r := <-l.reqs:
			c, err := l.send(r.msg)
			if err != nil {
				r.reply <- fmt.Errorf("%w: publish workout %s: %w", ErrUnavailable, r.msg.MessageId, err)
				continue
			}
			r.c = c
			l.sent <- r
		case <-l.stop:
			for {
				select {
				case r := <-l.reqs:
					r.reply <- fmt.Errorf("%w: %w", ErrUnavailable, errLaneStopped)
				default:
					return
				}
			}
		}
	}
}

// confirm answers sent messages as their confirmations arrive, until the
// writer is gone and every message it sent was answered.
func (l *lane) confirm() {
	var next *request
	for {
		if next == nil {
			r, ok := <-l.sent
			if !ok {
				return
			}
			next = r
		}
		select {
		case <-next.c.Done():
		case <-l.stop:
			l.abandon(next)
			for r := range l.sent {
				l.abandon(r)
			}
			return
		}
		batch := []*request{next}
		next = nil
	collect:
		for len(batch) < maxSettle {
			select {
			case r, ok := <-l.sent:
				if !ok {
					break collect
				}
				select {
				case <-r.c.Done():
					batch = append(batch, r)
				default:
					next = r
					break collect
				}
			default:
				break collect
			}
		}
		l.settle(batch)
	}
}

// settle answers requests whose confirmations arrived: nil only for an ack
// of a message that was not returned.
func (l *lane) settle(batch []*request) {
	acked := make([]string, 0, len(batch))
	for _, r := range batch {
		if r.c.Acked() {
			acked = append(acked, r.msg.MessageId)
		}
	}
	returned := l.returns.takeAll(acked)
	for _, r := range batch {
		switch {
		case !r.c.Acked() && l.closed():
			r.reply <- fmt.Errorf("%w: connection lost before the confirm of workout %s", ErrUnavailable, r.msg.MessageId)
		case !r.c.Acked():
			r.reply <- fmt.Errorf("%w: workout %s", ErrNacked, r.msg.MessageId)
		case returned[r.msg.MessageId] > 0:
			returned[r.msg.MessageId]--
			r.reply <- fmt.Errorf("%w: workout %s", ErrReturned, r.msg.MessageId)
		default:
			r.reply <- nil
		}
	}
}

// abandon answers a sent message when the lane stops: by its confirmation
// if it is in, as unconfirmed otherwise.
func (l *lane) abandon(r *request) {
	select {
	case <-r.c.Done():
		l.settle([]*request{r})
	default:
		r.reply <- fmt.Errorf("%w: channel closed before the confirm of workout %s", ErrUnavailable, r.msg.MessageId)
	}
}

// close stops the writer and the confirmer and waits for them; queued
// messages fail, and so do sent ones whose confirmation is not in.
func (l *lane) close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.exited
}

// publish sends msg through the writer and waits for the broker's answer:
// nil only after an ack of a message that was not returned. It gives up
// when ctx ends or expired delivers (nil: never).
func (l *lane) publish(ctx context.Context, expired <-chan time.Time, msg amqp.Publishing) error {
	r := &request{msg: msg, reply: make(chan error, 1)}
	select {
	case l.reqs <- r:
	case <-l.exited:
		return fmt.Errorf("%w: %w", ErrUnavailable, errLaneStopped)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting to publish workout %s: %w", ErrUnavailable, msg.MessageId, ctx.Err())
	case <-expired:
		return fmt.Errorf("%w: waiting to publish workout %s: %w", ErrUnavailable, msg.MessageId, context.DeadlineExceeded)
	}
	select {
	case err := <-r.reply:
		return err
	case <-l.exited:
		// The lane answers every request it took before it exits; a
		// request queued after the writer's last look was never sent.
		select {
		case err := <-r.reply:
			return err
		default:
			return fmt.Errorf("%w: %w", ErrUnavailable, errLaneStopped)
		}
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the confirm of workout %s: %w", ErrUnavailable, msg.MessageId, ctx.Err())
	case <-expired:
		return fmt.Errorf("%w: waiting for the confirm of workout %s: %w", ErrUnavailable, msg.MessageId, context.DeadlineExceeded)
	}
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
