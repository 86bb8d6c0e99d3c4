package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// process is one child service with its log file.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed once the process has exited
	err     error         // its exit error, set before done is closed
}

// startProcess starts bin/<binary> with env added to ours. A binary that
// has not been built yet is reported and skipped, so the stack runs with
// whatever exists.
func startProcess(log *slog.Logger, bin, binary, name, logs string, env []string, args ...string) (*process, error) {
	path := filepath.Join(bin, binary)
	if _, err := os.Stat(path); err != nil {
		log.Warn("not started: binary missing", "name", name, "path", path)
		return nil, nil
	}
	logPath := filepath.Join(logs, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", logPath, err)
	}
	// Not CommandContext: on Ctrl-C the children get SIGTERM in order and
	// time to drain, not SIGKILL at once.
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group, so the terminal's SIGINT reaches devstack only and
	// the stop order holds; Pdeathsig, so nothing outlives a killed devstack.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, logFile: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	log.Info("started", "name", name, "pid", cmd.Process.Pid, "log", logPath)
	return p, nil
}

// stop sends SIGTERM and waits up to grace before killing the process.
func (p *process) stop(grace time.Duration) error {
	defer p.logFile.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("stop %s: did not exit within %s, killed", p.name, grace)
	}
}

// exited reports the first child that exits on its own.
func exited(procs []*process) <-chan *process {
	out := make(chan *process, len(procs))
	for _, p := range procs {
		go func() {
			<-p.done
			out <- p
		}()
	}
	return out
}
