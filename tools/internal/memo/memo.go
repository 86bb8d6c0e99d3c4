// Package memo computes a value once per key, for work that concurrent
// callers share in one validator run: a chart loaded, a file parsed.
package memo

import "sync"

// Map holds one result per key. The zero value is ready to use; it must
// not be copied after first use.
type Map[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]*entry[V]
}

type entry[V any] struct {
	once sync.Once
	val  V
	err  error
}

// Do returns the result of f for key, calling f only for the first caller
// of that key; concurrent callers of the same key wait for it, callers of
// other keys do not.
func (m *Map[K, V]) Do(key K, f func() (V, error)) (V, error) {
	m.mu.Lock()
	if m.entries == nil {
		m.entries = map[K]*entry[V]{}
	}
	e, ok := m.entries[key]
	if !ok {
		e = &entry[V]{}
		m.entries[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.val, e.err = f() })
	return e.val, e.err
}
