package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the kernel's USER_HZ, the unit of /proc CPU times (100 on
// every Linux this runs on).
const clockTick = 100

// CPUSample is a snapshot of the CPU time spent so far by this process, by
// the broker's processes, and by the whole machine.
type CPUSample struct {
	at      time.Time
	self    time.Duration
	broker  time.Duration
	busy    time.Duration
	elapsed time.Duration
}

// CPUMeter samples CPU time. The broker is every process whose command line
// holds BrokerMatch (the broker's data directory); an empty BrokerMatch or
// a system without /proc leaves the broker's and the machine's figures at 0.
type CPUMeter struct {
	BrokerMatch string
}

// Sample takes a snapshot.
func (m CPUMeter) Sample() CPUSample {
	s := CPUSample{at: time.Now()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.BrokerMatch != "" {
		s.broker = processesCPU(m.BrokerMatch)
	}
	s.busy, s.elapsed = machineCPU()
	return s
}

// CPUUse is the CPU time spent between two samples.
type CPUUse struct {
	Wall, Self, Broker time.Duration
	// Busy is the machine's busy fraction (0..1 of all cores); Cores is
	// how many cores that is of.
	Busy  float64
	Cores int
}

// Since returns the use from s to now.
func (m CPUMeter) Since(s CPUSample) CPUUse {
	e := m.Sample()
	u := CPUUse{Wall: e.at.Sub(s.at), Self: e.self - s.self, Broker: e.broker - s.broker}
	if d := e.elapsed - s.elapsed; d > 0 {
		u.Busy = float64(e.busy-s.busy) / float64(d)
	}
	u.Cores = numCPU()
	return u
}

// PerOp formats the CPU cost of one of n operations: this process, the
// broker, and how busy the machine was.
func (u CPUUse) PerOp(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("CPU per message: this process %.0f µs, broker %.0f µs; machine %.0f%% busy of %d cores",
		float64(u.Self.Microseconds())/float64(n), float64(u.Broker.Microseconds())/float64(n), 100*u.Busy, u.Cores)
}

// processesCPU sums user+system time of the processes whose command line
// contains match.
func processesCPU(match string) time.Duration {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		cmd, err := os.ReadFile(d + "/cmdline")
		if err != nil || !bytes.Contains(cmd, []byte(match)) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces): state is
		// field 3, utime and stime are fields 14 and 15.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + st
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// machineCPU returns the machine's busy and total CPU time from /proc/stat.
func machineCPU() (busy, total time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	var sum, idle int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(sum-idle) * time.Second / clockTick, time.Duration(sum) * time.Second / clockTick
}

func numCPU() int {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}
