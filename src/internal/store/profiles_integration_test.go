package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

func TestProfiles(t *testing.T) {
	ctx := context.Background()
	db := database(t)
	now := time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, b := store.NewProfiles(db, clock), store.NewProfiles(db, clock)

	p, err := a.Get(ctx, "ana")
	if err != nil || p.UserID != "ana" || p.Unit != "" {
		t.Fatalf("profile of a new user: %+v, %v", p, err)
	}
	want := store.Profile{UserID: "ana", Unit: workout.Pounds, TimeZone: "Europe/Berlin", DaysPerWeek: 3}
	if err := a.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.Get(ctx, "ana"); p.Unit != workout.Pounds || p.DaysPerWeek != 3 {
		t.Errorf("the saving replica reads %+v", p)
	}
	// Another replica read it before the save: it keeps its copy for
	// ProfileTTL, then reads the new one.
	if p, _ := b.Get(ctx, "bob"); p.Unit != "" {
		t.Fatal(p)
	}
	if p, _ := b.Get(ctx, "ana"); p.Unit != workout.Pounds || p.TimeZone != "Europe/Berlin" || !p.UpdatedAt.Equal(now) {
		t.Errorf("another replica reads %+v", p)
	}
	want.DaysPerWeek = 4
	if err := a.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.Get(ctx, "ana"); p.DaysPerWeek != 3 {
		t.Errorf("within the TTL another replica reads %+v, want its cached copy", p)
	}
	now = now.Add(store.ProfileTTL)
	if p, _ := b.Get(ctx, "ana"); p.DaysPerWeek != 4 {
		t.Errorf("after the TTL another replica reads %+v", p)
	}
}
