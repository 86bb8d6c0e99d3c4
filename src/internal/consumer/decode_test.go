package consumer

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

type nopStore struct{}

func (nopStore) InsertBatch(context.Context, []workout.Workout) (store.Result, error) {
	return store.Result{}, nil
}

func TestDecode(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c, err := New(Config{Dial: amqpconn.Config{URL: "amqp://localhost/"}, Store: nopStore{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	w := workout.Workout{
		ID: "0b6f3b5e-8d1c-4b7e-9a51-2f0c7d1e9a10", UserID: "ana", Exercise: "bench-press",
		PerformedAt: now.Add(-time.Hour), Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 80}}, LoggedAt: now,
	}
	good, _ := json.Marshal(w)
	bad := w
	bad.Unit = "stone"
	badBody, _ := json.Marshal(bad)
	tests := []struct {
		name   string
		d      amqp.Delivery
		reason string // substring; "" for valid
	}{
		{name: "valid", d: amqp.Delivery{ContentType: "application/json", MessageId: w.ID, Body: good}},
		{name: "valid without message id", d: amqp.Delivery{Body: good}},
		{name: "wrong content type", d: amqp.Delivery{ContentType: "text/plain", Body: good}, reason: "content type"},
		{name: "not json", d: amqp.Delivery{Body: []byte("hello")}, reason: "decode workout"},
		{name: "invalid", d: amqp.Delivery{Body: badBody}, reason: "unit"},
		{name: "id mismatch", d: amqp.Delivery{MessageId: "other", Body: good}, reason: "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := c.decode(tt.d)
			if tt.reason == "" {
				if it.reason != "" || it.w.ID != w.ID {
					t.Fatalf("decode: reason %q, id %q", it.reason, it.w.ID)
				}
				return
			}
			if !strings.Contains(it.reason, tt.reason) {
				t.Errorf("reason %q, want it to mention %q", it.reason, tt.reason)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{Dial: amqpconn.Config{URL: "amqp://localhost/"}, Store: nopStore{}, BatchSize: 800})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Prefetch != 1600 || c.cfg.BatchSize != 800 {
		t.Errorf("prefetch %d batch %d: prefetch should be twice the batch", c.cfg.Prefetch, c.cfg.BatchSize)
	}
	if _, err := New(Config{Store: nopStore{}}); err == nil {
		t.Error("New accepted a config without a URL")
	}
	if _, err := New(Config{Dial: amqpconn.Config{URL: "amqp://x/"}}); err == nil {
		t.Error("New accepted a config without a store")
	}
}
