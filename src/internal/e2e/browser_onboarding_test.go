package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/browsertest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// TestBrowserOnboarding: a new user on a phone follows the plan page's
// onboarding card, sets pounds, three days a week and a recent best squat
// and bench; the profile is in the store, the starting sets are stored
// through the broker and the consumer, and the log form prefills the
// squat from the starting set. The settings and data pages are kept as
// desktop screenshots too.
func TestBrowserOnboarding(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true, profiles: true})
	browser := browsertest.Start(t, 412, 915)
	artifacts := browsertest.Artifacts(t, "e2e")
	shot := func(name string) chromedp.Action[chromedp.Void] { return browsertest.Screenshot(t, artifacts, name) }
	text := func(sel string, dst *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
			*dst = v
			return err
		})
	}
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}
	load := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, steps...); err != nil {
			t.Fatalf("browser, %s: %v", what, err)
		}
	}

	var card, heading, flash, prefill string
	load("plan", chromedp.Navigate(s.srv.URL+"/"))
	do("onboarding card", text(`#onboard`, &card), shot("onboard-plan.png"))
	load("settings", chromedp.Click(chromedp.CSS(`#onboard a`)))
	do("fill settings",
		text(`h1`, &heading),
		chromedp.SetValue(chromedp.CSS(`#unit`), "lb"),
		chromedp.SetValue(chromedp.CSS(`#days_per_week`), "3"),
		chromedp.SetValue(chromedp.CSS(`#time_zone`), "America/Chicago"),
		chromedp.SendKeys(chromedp.CSS(`#reps_back-squat`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_back-squat`), "315"),
		chromedp.SendKeys(chromedp.CSS(`#reps_bench-press`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_bench-press`), "225"),
		shot("onboard-settings.png"))
	load("start", chromedp.Click(chromedp.CSS(`#save`)))
	do("welcome", text(`#flash`, &flash), shot("onboard-welcome.png"))
	load("log squat", chromedp.Navigate(s.srv.URL+"/log?exercise=back-squat"))
	do("prefill", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Value(chromedp.CSS(`#weight_0`))(ctx, tg)
		prefill = v
		return err
	}))
	do("desktop",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(s.srv.URL+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`#settings-form`)),
		shot("settings-1280.png"),
		chromedp.Navigate(s.srv.URL+"/import"),
		chromedp.WaitVisible(chromedp.CSS(`#import-form`)),
		shot("data-1280.png"))

	if !strings.Contains(card, "New here?") || !strings.Contains(heading, "Welcome") {
		t.Errorf("onboarding card %q, settings heading %q", card, heading)
	}
	if !strings.Contains(flash, "Settings saved") {
		t.Errorf("flash after onboarding: %q", flash)
	}
	if prefill != "315" {
		t.Errorf("squat prefilled with %q, want the starting set's 315", prefill)
	}
	var p store.Profile
	if err := s.db.Collection(store.ProfileCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: devUser}}).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Unit != workout.Pounds || p.DaysPerWeek != 3 || p.TimeZone != "America/Chicago" {
		t.Errorf("stored profile %+v", p)
	}
	waitUserCount(t, s, devUser, 2)
}
