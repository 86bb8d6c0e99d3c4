package publish

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowConn records what is written to it, one system call per Write, each
// taking a little time so that writes pile up behind it.
type slowConn struct {
	net.Conn
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	fail   error
	closed atomic.Bool
}

func (c *slowConn) Write(p []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes++
	return c.buf.Write(p)
}

func (c *slowConn) Close() error { c.closed.Store(true); return nil }

func (c *slowConn) snapshot() ([]byte, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf.Bytes()), c.writes
}

// frame is what one Write carries: writer, sequence, length, payload, end
// marker, like an AMQP frame (whose end marker the broker checks).
func frame(writer, seq int) []byte {
	payload := bytes.Repeat([]byte{byte(writer)}, 20+seq%300)
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, [3]uint32{uint32(writer), uint32(seq), uint32(len(payload))})
	b.Write(payload)
	b.WriteByte(0xCE)
	return b.Bytes()
}

func TestBatchConnKeepsEveryWriteWholeAndInOrder(t *testing.T) {
	const writers, perWriter = 8, 500
	under := &slowConn{}
	c := newBatchConn(under)
	defer c.Close()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				f := frame(w, i)
				if n, err := c.Write(f); err != nil || n != len(f) {
					t.Errorf("write: %d, %v", n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for w := range writers {
		for i := range perWriter {
			total += len(frame(w, i))
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	data, calls := under.snapshot()
	for len(data) < total && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		data, calls = under.snapshot()
	}
	if len(data) != total {
		t.Fatalf("%d bytes written, want %d", len(data), total)
	}
	next := make([]int, writers)
	r := bytes.NewReader(data)
	for r.Len() > 0 {
		var h [3]uint32
		if err := binary.Read(r, binary.BigEndian, &h); err != nil {
			t.Fatal(err)
		}
		w, seq, n := int(h[0]), int(h[1]), int(h[2])
		if w >= writers || seq != next[w] {
			t.Fatalf("frame of writer %d seq %d, want seq %d: writes interleaved or reordered", w, seq, next[w])
		}
		next[w]++
		body := make([]byte, n+1)
		if _, err := io.ReadFull(r, body); err != nil {
			t.Fatal(err)
		}
		if body[n] != 0xCE || !bytes.Equal(body[:n], bytes.Repeat([]byte{byte(w)}, n)) {
			t.Fatalf("frame of writer %d seq %d corrupted", w, seq)
		}
	}
	t.Logf("%d frames in %d system calls", writers*perWriter, calls)
}

func TestBatchConnWriteErrorIsSticky(t *testing.T) {
	under := &slowConn{fail: errors.New("connection reset")}
	c := newBatchConn(under)
	defer c.Close()
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatalf("first write queued: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("more"))
		time.Sleep(time.Millisecond)
	}
	if err == nil || err.Error() != "connection reset" {
		t.Fatalf("write after a failed system call = %v, want the failure", err)
	}
	if !under.closed.Load() {
		t.Error("socket not closed after a failed write")
	}
}

// blockingConn never finishes a write until released.
type blockingConn struct {
	net.Conn
	release chan struct{}
}

func (c *blockingConn) Write(p []byte) (int, error) { <-c.release; return len(p), nil }
func (c *blockingConn) Close() error                { return nil }

func TestBatchConnBackpressureAndClose(t *testing.T) {
	under := &blockingConn{release: make(chan struct{})}
	defer close(under.release)
	c := newBatchConn(under)
	chunk := make([]byte, 64<<10)
	// The writer takes what is queued and blocks writing it; the queue
	// then fills up to maxPending and the next Write waits. At most the
	// batch being written plus maxPending are held.
	var queued atomic.Int64
	blocked := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(chunk); err != nil {
				blocked <- err
				return
			}
			queued.Add(int64(len(chunk)))
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for queued.Load() <= maxPending && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if q := queued.Load(); q > 2*maxPending {
		t.Fatalf("%d bytes accepted while the socket was stuck, limit %d", q, 2*maxPending)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("blocked write after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release a blocked Write")
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close = %v, want net.ErrClosed", err)
	}
}

type tlsConn struct{ slowConn }

func (*tlsConn) ConnectionState() tls.ConnectionState {
	return tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
}

func TestBatchConnForwardsTLSState(t *testing.T) {
	c := newBatchConn(&tlsConn{})
	defer c.Close()
	if s := c.ConnectionState(); s.Version != tls.VersionTLS13 || !s.HandshakeComplete {
		t.Errorf("ConnectionState = %+v, want the TLS session's", s)
	}
	plain := newBatchConn(&slowConn{})
	defer plain.Close()
	if s := plain.ConnectionState(); s.HandshakeComplete {
		t.Errorf("ConnectionState over plain TCP = %+v, want empty", s)
	}
}
