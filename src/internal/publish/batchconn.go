package publish

import (
	"crypto/tls"
	"net"
	"sync"
)

// maxPending bounds the bytes a batchConn queues while its writer is
// sending the previous batch; a Write that would exceed it waits (the
// socket is the backpressure).
const maxPending = 1 << 20

// batchConn is a net.Conn whose writes are sent by one goroutine, which
// sends everything written while its previous system call was under way
// in one system call.
//
// amqp091-go flushes its buffer after every published message, so each
// message is one write(2) and, on the broker, one read and usually one
// confirm of its own. Under concurrent load that per-message cost is most
// of the broker's CPU. Through a batchConn a Write is a copy: many messages
// leave in one segment, the broker reads and confirms them together
// (basic.ack multiple), and an idle connection adds one goroutine wake-up
// of latency. Nothing is acknowledged by a Write: a message counts as sent
// only when the broker confirms it, so a write that fails after Write
// returned loses nothing that was reported: the connection closes and the
// pending confirms fail.
type batchConn struct {
	net.Conn

	mu      sync.Mutex
	cond    *sync.Cond // signalled when the writer took the pending bytes
	pending []byte
	spare   []byte
	err     error
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c, wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.cond = sync.NewCond(&b.mu)
	go b.loop()
	return b
}

// Write queues p for the writer; it blocks only while maxPending bytes are
// queued, and fails once a write failed or the connection closed.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	for b.err == nil && !b.closed && len(b.pending) > 0 && len(b.pending)+len(p) > maxPending {
		b.cond.Wait()
	}
	switch {
	case b.err != nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.closed:
		b.mu.Unlock()
		return 0, net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *batchConn) loop() {
	for {
		select {
		case <-b.wake:
		case <-b.done:
			return
		}
		for {
			b.mu.Lock()
			if len(b.pending) == 0 {
				b.mu.Unlock()
				break
			}
			// Swap buffers: callers append to the spare one while this
			// one is written.
			buf := b.pending
			b.pending, b.spare = b.spare[:0], nil
			b.cond.Broadcast()
			b.mu.Unlock()
			_, err := b.Conn.Write(buf)
			b.mu.Lock()
			b.spare = buf[:0]
			if err != nil && b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
			if err != nil {
				// The reader notices the closed socket and the connection
				// shuts down, failing every pending confirm.
				_ = b.Conn.Close()
				b.cond.Broadcast()
				return
			}
		}
	}
}

// ConnectionState reports the TLS session underneath, if any, for
// amqp091's Connection.ConnectionState.
func (b *batchConn) ConnectionState() tls.ConnectionState {
	if c, ok := b.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return c.ConnectionState()
	}
	return tls.ConnectionState{}
}

// Close stops the writer and closes the socket.
func (b *batchConn) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.cond.Broadcast()
		b.mu.Unlock()
		close(b.done)
	})
	return b.Conn.Close()
}
