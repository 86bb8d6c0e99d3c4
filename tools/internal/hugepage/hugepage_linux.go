//go:build linux && (amd64 || arm64)

package hugepage

import (
	"os"
	"runtime/debug"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// arena is the runtime's heap arena size on 64-bit Linux: the unit in
// which it reserves heap address space, upward from its first arena.
const arena = 64 << 20

// onRequest reports whether the kernel gives huge pages to marked memory
// only: with "always" marking changes nothing, with "never" it is ignored.
func onRequest() bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	return err == nil && strings.Contains(string(b), "[madvise]")
}

// overcommitMode is the kernel's vm.overcommit_memory, "" when unknown.
func overcommitMode() string {
	b, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	if err != nil {
		return ""
	}
	return string(b)
}

// heapBase is the start of the arena that holds a fresh heap object: at
// the start of a process, the heap's lowest. The object is larger than the
// compiler keeps on a stack.
func heapBase() uintptr {
	p := make([]byte, 128<<10)
	return uintptr(unsafe.Pointer(&p[0])) &^ (arena - 1)
}

// preMap makes the runtime map n bytes of heap without touching them (fresh
// mappings are known to be zero), then frees them. The collection runs
// after the objects are dropped, so the heap goal stays that of the live
// heap, and later allocations reuse the mapped, marked pages first.
// Returning the pages to the kernel costs nothing (none is populated) and
// tells the runtime they read as zero, so it does not clear them again
// when it reuses them.
//
// The memory is taken in chunks: the runtime clears a whole allocation
// when any of it lies on pages used before, and the heap's free top often
// has some (a collection during package initialisation frees them), so one
// allocation of n bytes was sometimes cleared entirely, populating all of
// it. Chunks after the first few lie on fresh pages only.
func preMap(n int) {
	const chunk = 4 << 20
	hold := make([][]byte, 0, n/chunk)
	for range n / chunk {
		hold = append(hold, make([]byte, chunk))
	}
	drop(hold)
	debug.FreeOSMemory()
}

//go:noinline
func drop([][]byte) {}

// mark sets MADV_HUGEPAGE on every mapping in [base, base+n). The kernel
// applies it to each mapping in the range and reports ENOMEM for the gaps,
// which are expected.
func mark(base, n uintptr) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, base, n, unix.MADV_HUGEPAGE)
}
