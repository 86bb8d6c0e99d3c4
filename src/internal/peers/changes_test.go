package peers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/backoff"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// keeper keeps the workouts a replica heard, whole.
type keeper struct {
	mu sync.Mutex
	ws map[string]workout.Workout
}

func (k *keeper) Remember(w workout.Workout) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ws[w.ID] = w
}

func (k *keeper) get(id string) (workout.Workout, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w, ok := k.ws[id]
	return w, ok
}

// An edit or a delete announced by one replica reaches the others with its
// version and deleted mark, so that they replace the older copy they show.
func TestChangesKeepTheirVersion(t *testing.T) {
	a := startReplica(t, "a")
	k := &keeper{ws: map[string]workout.Workout{}}
	n, err := New(Config{Dial: amqpconn.Config{URL: broker.URL()}, Sink: k, Replica: "b", Registry: prometheus.NewRegistry(),
		Backoff: backoff.Policy{Min: 50 * time.Millisecond, Max: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor(t, 30*time.Second, "b connected", n.Connected)

	w := accepted(1)
	w.Version, w.Deleted = time.Now().UnixMilli(), true
	a.n.Announce(w)
	waitFor(t, 5*time.Second, "the change heard", func() bool { _, ok := k.get(w.ID); return ok })
	if got, _ := k.get(w.ID); got.Version != w.Version || !got.Deleted {
		t.Errorf("heard version %d deleted=%v, want %d and true", got.Version, got.Deleted, w.Version)
	}
}
