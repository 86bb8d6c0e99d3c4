package web

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// idempotencyEntries bounds the workouts a server remembers for
// Idempotency-Key checks (about 100 bytes each).
const idempotencyEntries = 50_000

// fingerprint identifies what a request asked for, so that a retry (same
// key, same request) can be told from a reused key (same key, another
// request).
type fingerprint [sha256.Size]byte

// idempotencyCache maps a user's workout id to the fingerprint of the
// request confirmed under it, for the last n confirmed workouts (oldest
// forgotten first). It is per process: a key reused on another replica or
// after a restart is not detected, and the consumer keeps the first
// workout stored under an id.
type idempotencyCache struct {
	mu      sync.Mutex
	entries map[idempotencyKey]fingerprint
	order   []idempotencyKey // ring of keys, oldest at next
	next    int
}

type idempotencyKey struct{ user, id string }

func newIdempotencyCache(n int) *idempotencyCache {
	return &idempotencyCache{entries: make(map[idempotencyKey]fingerprint, n), order: make([]idempotencyKey, 0, n)}
}

// lookup reports whether id was confirmed for user, and with which request.
func (c *idempotencyCache) lookup(user, id string) (fingerprint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fp, ok := c.entries[idempotencyKey{user, id}]
	return fp, ok
}

// add records a confirmed request.
func (c *idempotencyCache) add(user, id string, fp fingerprint) {
	k := idempotencyKey{user, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	if len(c.order) < cap(c.order) {
		c.order = append(c.order, k)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % len(c.order)
	}
	c.entries[k] = fp
}

// workoutFingerprint covers what an API client sends: not the id (the
// key itself) nor what the server sets. It hashes the fields directly:
// it runs on every POST.
func workoutFingerprint(w workout.Workout) fingerprint {
	var buf [512]byte
	b := append(buf[:0], "api\x00"...)
	b = appendString(b, w.Exercise)
	b = binary.LittleEndian.AppendUint64(b, uint64(w.PerformedAt.UnixNano()))
	b = appendString(b, string(w.Unit))
	b = appendString(b, w.Notes)
	for _, s := range w.Sets {
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Reps))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Weight))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.RPE))
	}
	return sha256.Sum256(b)
}

// appendString appends s with its length, so that fields cannot run into
// each other.
func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// formFingerprint covers the log form as typed: submitting the same form
// again (its "today" is a new instant) is a retry, an edited one is not.
func formFingerprint(f Form) fingerprint {
	f.IdempotencyKey = ""
	data, _ := json.Marshal(f)
	return sha256.Sum256(append([]byte("form\x00"), data...))
}
