package chaos

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/topology"
)

var (
	full = flag.Bool("full", false, "run each fault alone at full length (10 s down times, a rolling restart, a 30 s partition)")
	seed = flag.Uint64("seed", 0, "seed of the chaos run (0: from the clock, printed)")
)

var (
	stack   *Stack
	logPath string
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "chaos: the fault tests need root (network namespaces)")
			return 1
		}
		fmt.Fprintln(os.Stderr, "chaos: skipped: the fault tests need root (network namespaces)")
		return 0
	}
	f, err := os.CreateTemp("", "chaos-*.log")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logPath = f.Name()
	defer f.Close()
	logger := slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	stack, err = StartStack(ctx, Options{Logger: logger})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: start stack:", err)
		return 1
	}
	logger.Info("stack up", "took", time.Since(start).Round(time.Millisecond), "urls", stack.Cluster.URLs())
	code := m.Run()
	if err := stack.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "chaos: stop stack:", err)
		code = 1
	}
	if code == 0 {
		os.Remove(logPath)
	} else {
		fmt.Fprintln(os.Stderr, "chaos: services' log:", logPath)
	}
	return code
}

// phases are the load around the faults: short in make test, longer with -full.
func phases() Phases {
	if *full {
		return Phases{Before: 10 * time.Second, After: 15 * time.Second}
	}
	return Phases{Before: 3 * time.Second, After: 4 * time.Second}
}

func runFaults(t *testing.T, faults ...Fault) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	o, err := stack.RunFaults(ctx, faults, phases(), 3*time.Second, 1, log)
	if err != nil {
		t.Fatal(err)
	}
	report(t, o)
}

func report(t *testing.T, o Outcome) {
	t.Helper()
	var b bytes.Buffer
	if err := Report(&b, o); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	if err := o.Err(); err != nil {
		t.Fatal(err)
	}
	if o.Audit.Accepted == 0 {
		t.Fatal("no workout was accepted")
	}
}

// testWriter sends the faults' log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// TestQueueReplicas checks that the work queue and the dead-letter queue
// have a replica on each of the three nodes.
func TestQueueReplicas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, q := range []string{topology.Queue, topology.DeadLetterQueue} {
		members, err := stack.Cluster.QueueMembers(ctx, 0, q)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(members)
		if !slices.Equal(members, []int{0, 1, 2}) {
			t.Errorf("%s has replicas on nodes %v, want all three", q, members)
		}
	}
}

// TestFaults runs each broker fault alone at full length under its own
// load (make faults): kill -9 of the quorum queue's leader (down 10 s), a
// graceful stop of a follower (10 s) then a rolling restart of all three
// nodes, a 30 s partition of the leader from the other two. make test
// covers the same faults, shorter, in TestChaos.
func TestFaults(t *testing.T) {
	if !*full {
		t.Skip("make faults runs each fault at full length (-args -full); TestChaos covers them briefly")
	}
	for _, f := range []Fault{
		KillLeader(10 * time.Second),
		StopFollowerThenRollingRestart(10 * time.Second),
		PartitionLeader(30 * time.Second),
	} {
		t.Run(f.Name, func(t *testing.T) { runFaults(t, f) })
	}
}

// TestChaos is make test's fault suite and chaos run in one: under 500
// POST/s, the broker faults each once, short, in an order and with gaps
// (1 to 4 s) drawn from the seed: kill -9 of the queue's leader (down 1 s,
// then ~15 s to boot here), a graceful restart of a follower (down 1 s), a
// partition of a random node for 10 s. make chaos is the long random run.
func TestChaos(t *testing.T) {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos seed %d (rerun: go test -run TestChaos ./src/internal/chaos -args -seed %s)", s, strconv.FormatUint(s, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	o, injections, err := stack.Chaos(ctx, ChaosOptions{
		Duration: 20 * time.Second,
		Seed:     s,
		Faults:   []Fault{KillLeader(time.Second), RestartFollower(time.Second), PartitionNode(10*time.Second, 10*time.Second)},
		EachOnce: true,
		After:    4 * time.Second,
		Gap:      4 * time.Second,
		Log:      slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, %d faults injected", s, len(injections))
	report(t, o)
}
