//go:build !(linux && (amd64 || arm64))

package hugepage

func onRequest() bool        { return false }
func overcommitMode() string { return "" }
func heapBase() uintptr      { return 0 }
func preMap(int)             {}
func mark(base, n uintptr)   {}
