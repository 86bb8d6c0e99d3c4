// Package netnstest helps tests that build hosts out of network namespaces
// (root only): running ip(8) and joining a namespace from Go.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// IP runs ip(8) with args and fails the test on an error, with its output.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// In runs fn on an OS thread that has joined namespace ns. Sockets fn
// creates belong to ns and can be used from any goroutine afterwards. The
// thread is never unlocked, so it ends with the goroutine and no other
// goroutine ever runs in ns.
func In(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			errc <- fmt.Errorf("open namespace: %w", err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("join namespace %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
