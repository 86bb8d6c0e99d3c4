// Package proc starts and stops the long-running processes of the
// end-to-end test (etcd, the Kubernetes control plane, kwok, Flux's
// controllers). Every process runs in its own process group with its output
// in a log file; Group.Stop ends them in reverse start order, SIGTERM first
// and SIGKILL after a grace period, so that nothing is left behind on
// failure, timeout or Ctrl-C.
package proc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Spec describes one process to start.
type Spec struct {
	// Name identifies the process in logs; its output goes to <LogDir>/<Name>.log.
	Name string
	// Path is the executable.
	Path string
	Args []string
	// Env is added to a minimal environment (PATH, HOME, TMPDIR).
	Env []string
	// Dir is the working directory; empty means the group's log directory.
	Dir string
}

// Process is one started process.
type Process struct {
	spec    Spec
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// LogPath is the file holding the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Exited reports whether the process has ended, and its error if so.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Group owns a set of processes and stops them together.
type Group struct {
	logDir string
	grace  time.Duration
	log    *slog.Logger

	mu    sync.Mutex
	procs []*Process
}

// NewGroup returns a Group writing process logs into logDir.
func NewGroup(logDir string, log *slog.Logger) *Group {
	return &Group{logDir: logDir, grace: 10 * time.Second, log: log}
}

// Start starts the process described by spec in a new process group.
func (g *Group) Start(spec Spec) (*Process, error) {
	logPath := filepath.Join(g.logDir, spec.Name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", spec.Name, err)
	}
	defer f.Close()

	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Dir = spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = g.logDir
	}
	cmd.Env = append(baseEnv(), spec.Env...)
	// Own process group, so Stop reaches any children; killed with the
	// driver if the driver dies without running Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	g.mu.Lock()
	defer g.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{spec: spec, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	g.procs = append(g.procs, p)
	g.log.Debug("started", "process", spec.Name, "pid", cmd.Process.Pid, "log", logPath)
	return p, nil
}

// Stop ends every process of the group, the last started first. It returns
// once all have exited.
func (g *Group) Stop() {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		stop(procs[i], g.grace, g.log)
	}
}

// Pids returns the process ids of the running processes.
func (g *Group) Pids() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var pids []int
	for _, p := range g.procs {
		if exited, _ := p.Exited(); !exited {
			pids = append(pids, p.cmd.Process.Pid)
		}
	}
	return pids
}

func stop(p *Process, grace time.Duration, log *slog.Logger) {
	pgid := p.cmd.Process.Pid
	if exited, err := p.Exited(); exited {
		log.Warn("process had already exited", "process", p.spec.Name, "err", err, "log", p.logPath)
		// Children may still hold the group.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		waitGroupGone(pgid, 2*time.Second)
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		log.Warn("process ignored SIGTERM, killing", "process", p.spec.Name)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Whatever is left in the group (children that survived their parent).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitGroupGone(pgid, 2*time.Second)
}

// waitGroupGone waits until no process is left in the group pgid, or for
// at most limit.
func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitFor polls check every interval until it returns true, the process
// exits, or ctx ends. The last check error is part of the returned error.
func WaitFor(ctx context.Context, p *Process, interval time.Duration, check func(context.Context) (bool, error)) error {
	var last error
	for {
		ok, err := check(ctx)
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if p != nil {
			if exited, exitErr := p.Exited(); exited {
				return fmt.Errorf("%s exited (%v), see %s", p.spec.Name, exitErr, p.logPath)
			}
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

func baseEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
