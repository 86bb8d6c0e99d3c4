package maintest

import (
	"net"
	"strings"
	"sync"
	"testing"
)

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { b.Logger().Info("hello", "k", "v") })
	}
	wg.Wait()
	if n := strings.Count(b.String(), `"msg":"hello"`); n != 8 {
		t.Fatalf("%d log lines, want 8:\n%s", n, b.String())
	}
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}
