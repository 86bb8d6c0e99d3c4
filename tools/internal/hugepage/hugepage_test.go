package hugepage

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestWanted(t *testing.T) {
	for _, c := range []struct {
		godebug, memlimit string
		want              bool
	}{
		{"", "", true},
		{"madvdontneed=1", "off", true},
		{"disablethp=0", "", true},
		{"disablethp=1", "", false},
		{"gctrace=1, disablethp=1", "", false},
		{"", "512MiB", false},
	} {
		if got := wanted(c.godebug, c.memlimit); got != c.want {
			t.Errorf("wanted(%q, %q) = %v, want %v", c.godebug, c.memlimit, got, c.want)
		}
	}
}

func TestOvercommits(t *testing.T) {
	for mode, want := range map[string]bool{"0\n": true, "1\n": true, "2\n": false, "": false, "x": false} {
		if got := overcommits(mode); got != want {
			t.Errorf("overcommits(%q) = %v, want %v", mode, got, want)
		}
	}
}

// TestAdvise checks, on this machine's kernel, that the heap the run
// allocates from is marked, both the reserve and what is mapped later, and
// that the reserve leaves the heap goal alone. It runs in a process of its
// own, as Advise does in main: first, with a fresh heap.
func TestAdvise(t *testing.T) {
	if !onRequest() {
		t.Skip("transparent huge pages are not in madvise mode here")
	}
	if !wanted(os.Getenv("GODEBUG"), os.Getenv("GOMEMLIMIT")) {
		t.Skip("GODEBUG or GOMEMLIMIT turns the marking off")
	}
	if !overcommits(overcommitMode()) {
		t.Skip("strict overcommit: no reserve to check")
	}
	if !inOwnProcess(t) {
		return
	}
	// The first marking happens before Advise returns: with a context
	// that has ended, it is the only one.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	Advise(ended)

	if goal := heapGoal(); goal > 256<<20 {
		t.Errorf("heap goal after Advise is %d MiB: the reserve was counted as live", goal>>20)
	}
	small := make([]byte, reserve/2)
	for _, a := range []uintptr{addr(small), addr(small) + uintptr(len(small)) - 1} {
		if flags, err := vmFlags(a); err != nil || !strings.Contains(flags, " hg") {
			t.Errorf("a heap object allocated after Advise is at %#x in a mapping with flags %q (%v), want hg", a, flags, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	Advise(ctx)
	// Larger than the two reserves: the runtime maps new address space for it.
	big := make([]byte, 4*reserve)
	deadline := time.Now().Add(5 * time.Second)
	for {
		flags, err := vmFlags(addr(big) + uintptr(len(big)) - 1)
		if err == nil && strings.Contains(flags, " hg") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a mapping added after Advise has flags %q (%v) after 5 s, want hg", flags, err)
		}
		time.Sleep(interval)
	}
	runtime.KeepAlive(small)
	runtime.KeepAlive(big)
}

// childEnv tells a test that it runs in its own process.
const childEnv = "HUGEPAGE_TEST_CHILD"

// inOwnProcess reports whether t runs in a process of its own; when it
// does not, it runs t again in one, with a fresh heap, and fails t if
// that fails.
func inOwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return false
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// vmFlags returns the VmFlags line of the mapping that holds a.
func vmFlags(a uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := rangeOf(line); ok {
			in = a >= lo && a < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimPrefix(line, "VmFlags:"), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", a)
}

// rangeOf parses the address range that starts a mapping's entry.
func rangeOf(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	l, h, dash := strings.Cut(r, "-")
	if !found || !dash {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(l, 16, 64)
	b, err2 := strconv.ParseUint(h, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}

// TestPreMapDirty checks that the reserve stays address space when the
// heap it extends has free pages that were used before (a collection
// during package initialisation leaves them): the runtime clears an
// allocation that starts on such pages, all of it, so a single 1 GiB
// reserve there took a gigabyte of memory and seconds of page faults. It
// runs in a process of its own, with a fresh heap.
func TestPreMapDirty(t *testing.T) {
	if !overcommits(overcommitMode()) {
		t.Skip("strict overcommit: no reserve")
	}
	if !inOwnProcess(t) {
		return
	}
	// Use the top of the heap and free it: those pages are below the
	// heap's zeroed mark now.
	var used [][]byte
	for range 48 {
		b := make([]byte, 1<<20)
		b[0], b[len(b)-1] = 1, 1
		used = append(used, b)
	}
	runtime.KeepAlive(used)
	used = nil
	runtime.GC()
	before := statusKB(t, "VmRSS")
	preMap(reserve)
	if grown := statusKB(t, "VmHWM") - before; grown > 128<<10 {
		t.Errorf("the reserve took %d MiB of memory, want address space only", grown>>10)
	}
}

// statusKB returns a kB field of /proc/self/status.
func statusKB(t *testing.T, field string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
