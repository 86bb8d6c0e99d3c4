// Package maintest helps tests that run a service's main loop in-process:
// a log sink the service's goroutines write to while the test reads it, and
// free loopback addresses for its listeners.
package maintest

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"testing"
)

// LogBuffer collects log output written from several goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger is a JSON logger writing to b, as the services log.
func (b *LogBuffer) Logger() *slog.Logger { return slog.New(slog.NewJSONHandler(b, nil)) }

// FreeAddr returns a loopback address with a port that was free a moment
// ago, for a listener the code under test opens itself.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
