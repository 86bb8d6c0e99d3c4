package publish_test

import (
	"context"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// An edit or a delete is a workout with a version and a deleted mark: the
// message must carry both, or the consumer would store it as the first
// version and the change would be lost.
func TestPublishCarriesTheChange(t *testing.T) {
	ch := admin(t)
	p := newPublisher(t)
	w := sample()
	w.Version, w.Deleted = time.Now().UnixMilli(), true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Publish(ctx, w); err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get(topology.Queue, true)
	if err != nil || !ok {
		t.Fatalf("get: ok=%v err=%v", ok, err)
	}
	got, err := workout.DecodeBytes(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != w.Version || !got.Deleted {
		t.Errorf("message %s carries version %d deleted=%v, want %d and true", d.Body, got.Version, got.Deleted, w.Version)
	}
}
