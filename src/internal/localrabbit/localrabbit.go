// Package localrabbit runs private RabbitMQ brokers as local processes through
// scripts/rabbitmq.sh, for tests and the local stack: a single node (Start)
// or a cluster (StartCluster). Each node has its own state directory, node
// name and ports.
package localrabbit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ScriptPath is where the broker script sits relative to the repository root.
const ScriptPath = "scripts/rabbitmq.sh"

// Broker is one private RabbitMQ node.
type Broker struct {
	script string
	dir    string
	tlsDir string
	url    string
	tlsURL string
}

// TLS asks for an AMQPS listener beside the plain one.
type TLS struct {
	// Dir holds ca.pem, server.pem and server-key.pem (PEM). The broker
	// requires clients to present a certificate signed by ca.pem.
	Dir string
}

// FindScript walks up from dir to the repository root and returns the path of
// scripts/rabbitmq.sh.
func FindScript(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", ScriptPath, err)
	}
	for {
		candidate := filepath.Join(dir, ScriptPath)
		if _, err := os.Stat(candidate); err == nil {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find %s: not found above the working directory", ScriptPath)
		}
		dir = parent
	}
}

// Start installs RabbitMQ when it is missing and starts a broker whose state
// lives in dir. The broker is stopped by a watchdog if this process dies
// without calling Stop, so a crashed test leaves nothing running.
func Start(ctx context.Context, script, dir string) (*Broker, error) {
	b := &Broker{script: script, dir: dir}
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// StartTLS is Start for a broker that also listens for AMQPS with the
// certificates in tls.Dir (read on the first start of dir only).
func StartTLS(ctx context.Context, script, dir string, tls TLS) (*Broker, error) {
	if tls.Dir == "" {
		return nil, fmt.Errorf("start rabbitmq in %s: tls directory is empty", dir)
	}
	b := &Broker{script: script, dir: dir, tlsDir: tls.Dir}
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	if b.tlsURL == "" {
		return nil, errors.Join(
			fmt.Errorf("start rabbitmq in %s: no amqps url; was the directory first started without TLS?", dir),
			b.Stop(ctx))
	}
	return b, nil
}

// Start starts the broker again after Stop, on the same ports and with the
// same data, as a restarted RabbitMQ node would come back.
func (b *Broker) Start(ctx context.Context) error {
	out, err := b.run(ctx, "start")
	if err != nil {
		return fmt.Errorf("start rabbitmq in %s: %w", b.dir, err)
	}
	b.url, b.tlsURL = "", ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case strings.HasPrefix(line, "amqp://"):
			b.url = line
		case strings.HasPrefix(line, "amqps://"):
			b.tlsURL = line
		}
	}
	if b.url == "" {
		return fmt.Errorf("start rabbitmq in %s: unexpected output %q", b.dir, out)
	}
	return nil
}

// Stop stops the broker and waits until its processes are gone. The data
// directory is kept so that Start resumes it.
func (b *Broker) Stop(ctx context.Context) error {
	if _, err := b.run(ctx, "stop"); err != nil {
		return fmt.Errorf("stop rabbitmq in %s: %w", b.dir, err)
	}
	return nil
}

// URL is the broker's AMQP URL (guest on loopback).
func (b *Broker) URL() string { return b.url }

// TLSURL is the broker's AMQPS URL (guest on 127.0.0.1), or "" when it was
// started without TLS.
func (b *Broker) TLSURL() string { return b.tlsURL }

// Dir is the broker's state directory (logs are under log/).
func (b *Broker) Dir() string { return b.dir }

// Kill kills the node with SIGKILL, as a crash would; Start brings it back.
func (b *Broker) Kill(ctx context.Context) error {
	if _, err := b.run(ctx, "kill"); err != nil {
		return fmt.Errorf("kill rabbitmq in %s: %w", b.dir, err)
	}
	return nil
}

// Ctl runs rabbitmqctl with args against the node and returns its output.
func (b *Broker) Ctl(ctx context.Context, args ...string) (string, error) {
	out, err := b.run(ctx, "ctl", args...)
	if err != nil {
		return "", fmt.Errorf("rabbitmqctl %s on %s: %w", strings.Join(args, " "), b.dir, err)
	}
	return out, nil
}

// Upgrade runs rabbitmq-upgrade with args against the node, as before a
// restart: "await_online_quorum_plus_one" waits until stopping it leaves
// every quorum queue a majority.
func (b *Broker) Upgrade(ctx context.Context, args ...string) error {
	if _, err := b.run(ctx, "upgrade", args...); err != nil {
		return fmt.Errorf("rabbitmq-upgrade %s on %s: %w", strings.Join(args, " "), b.dir, err)
	}
	return nil
}

// Port is the broker's AMQP port.
func (b *Broker) Port() int {
	i := strings.LastIndex(b.url, ":")
	p, _ := strconv.Atoi(strings.TrimSuffix(b.url[i+1:], "/"))
	return p
}

func (b *Broker) run(ctx context.Context, verb string, args ...string) (string, error) {
	return runScript(ctx, b.script, b.tlsDir, append([]string{verb, b.dir}, args...)...)
}

func runScript(ctx context.Context, script, tlsDir string, args ...string) (string, error) {
	var env []string
	if tlsDir != "" {
		env = append(env, "RABBITMQ_TLS_DIR="+tlsDir)
	}
	return runScriptEnv(ctx, script, env, args...)
}

// runScriptEnv runs the script with env added to this process's.
func runScriptEnv(ctx context.Context, script string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = append(append(os.Environ(), "RABBITMQ_OWNER_PID="+strconv.Itoa(os.Getpid())), env...)
	// A process group of its own: Ctrl-C on the terminal must reach the
	// owner, which then stops the broker in order, not this script midway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", errors.Join(err, errors.New(msg))
	}
	return stdout.String(), nil
}
