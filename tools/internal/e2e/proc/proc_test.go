package proc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStopEndsTheWholeProcessGroup(t *testing.T) {
	tests := []struct {
		name   string
		script string
	}{
		{name: "leader exits on SIGTERM", script: "sleep 300 & wait"},
		{name: "leader ignores SIGTERM", script: "trap '' TERM; sleep 300 & while :; do wait; done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGroup(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			g.grace = 500 * time.Millisecond
			p, err := g.Start(Spec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", tt.script}})
			if err != nil {
				t.Fatal(err)
			}
			leader := p.cmd.Process.Pid
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var members []int
			err = WaitFor(ctx, p, 20*time.Millisecond, func(context.Context) (bool, error) {
				members = liveGroupMembers(t, leader)
				return len(members) >= 2, nil
			})
			if err != nil {
				t.Fatalf("the shell and its child never both ran: %v", err)
			}
			g.Stop()
			if pids := g.Pids(); len(pids) != 0 {
				t.Errorf("Pids() = %v after Stop", pids)
			}
			if left := liveGroupMembers(t, leader); len(left) != 0 {
				t.Errorf("processes %v of the group (was %v) survive Stop", left, members)
			}
		})
	}
}

func TestWaitForReportsAnExitedProcess(t *testing.T) {
	g := NewGroup(t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer g.Stop()
	p, err := g.Start(Spec{Name: "false", Path: "/bin/false"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = WaitFor(ctx, p, 10*time.Millisecond, func(context.Context) (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "false exited") {
		t.Fatalf("WaitFor = %v, want an error saying the process exited", err)
	}
}

func TestWaitForHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := WaitFor(ctx, nil, 10*time.Millisecond, func(context.Context) (bool, error) {
		return false, errors.New("not yet")
	})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("WaitFor = %v, want the deadline and the last check error", err)
	}
}

// liveGroupMembers lists the processes of group pgid that are not zombies.
func liveGroupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The state follows the command name in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
