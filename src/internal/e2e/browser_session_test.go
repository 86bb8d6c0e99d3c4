package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/homelab-gitops/homelab/src/internal/testenv/browsertest"
)

// TestBrowserSession logs a whole session (squat, bench and a plank) in one
// submission on a phone; History lists all three and the store has them.
func TestBrowserSession(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true})
	browser := browsertest.Start(t, 412, 915)
	artifacts := browsertest.Artifacts(t, "e2e")
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.srv.URL+"/log")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#session-link`))); err != nil {
		t.Fatalf("session link: %v", err)
	}
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#unit`), "kg"),
		chromedp.SetValue(chromedp.CSS(`#exercise_0`), "back-squat"),
		chromedp.SendKeys(chromedp.CSS(`#reps_0_0`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_0_0`), "100"),
		chromedp.SendKeys(chromedp.CSS(`#reps_0_1`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_0_1`), "100"),
		chromedp.SetValue(chromedp.CSS(`#exercise_1`), "bench-press"),
		chromedp.SendKeys(chromedp.CSS(`#reps_1_0`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_1_0`), "70"),
		chromedp.SendKeys(chromedp.CSS(`#rpe_1_0`), "8"),
		chromedp.SetValue(chromedp.CSS(`#exercise_2`), "plank"),
		chromedp.SendKeys(chromedp.CSS(`#reps_2_0`), "60"),
		browsertest.Screenshot(t, artifacts, "session-form.png"))
	if err != nil {
		t.Fatalf("fill the session: %v", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#submit`))); err != nil {
		t.Fatalf("submit: %v", err)
	}
	table, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#history`)))
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if err := chromedp.Do(ctx, browsertest.Screenshot(t, artifacts, "session-history.png")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Back squat", "2 × 5 @ 100 kg", "Bench press", "1 × 5 @ 70 kg RPE 8", "Plank (seconds)", "1 × 60 s"} {
		if !strings.Contains(table, want) {
			t.Errorf("history lacks %q:\n%s", want, table)
		}
	}
	waitUserCount(t, s, devUser, 3)
}
