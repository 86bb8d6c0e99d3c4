package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/homelab-gitops/homelab/src/internal/demo"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/browsertest"
)

// TestBrowserLogWorkout drives the app in development mode with a real
// headless Chromium, on a phone-sized window: log a workout through the
// form, see it in the history and on the progress chart, and keep a
// screenshot of each page.
func TestBrowserLogWorkout(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true})
	// Two years of history, so the plan and the charts show real data.
	history := demo.History(devUser, time.Now(), 104)
	docs := make([]any, len(history))
	squats := 0
	for i, w := range history {
		docs[i] = w
		if w.Exercise == "back-squat" {
			squats++
		}
	}
	if _, err := s.db.Collection(store.Collection).InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("seed history: %v", err)
	}

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

	// The first Run starts the browser: no timeout on its context.
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()

	var banner, flash, historyRow, latest string
	err := chromedp.Do(ctx,
		chromedp.Navigate(s.srv.URL+"/log"),
		chromedp.WaitVisible(chromedp.CSS(`#log-form`)),
		text(`#dev-banner`, &banner),
		chromedp.SetValue(chromedp.CSS(`#exercise`), "back-squat"),
		// Until this replica has read the user's history (a cold load
		// takes seconds on the embedded store) and without a unit cookie,
		// no unit is preselected: the user picks one.
		chromedp.SetValue(chromedp.CSS(`#unit`), "kg"),
		chromedp.SendKeys(chromedp.CSS(`#reps_0`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_0`), "100"),
		chromedp.SendKeys(chromedp.CSS(`#reps_1`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_1`), "100"),
		chromedp.SendKeys(chromedp.CSS(`#reps_2`), "4"),
		chromedp.SendKeys(chromedp.CSS(`#weight_2`), "100"),
		shot("log-form.png"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#flash`)),
		text(`#flash`, &flash),
		text(`tr.just-logged`, &historyRow),
		shot("history.png"),
		chromedp.Navigate(s.srv.URL+"/progress"),
		chromedp.WaitVisible(chromedp.CSS(`section[data-exercise="back-squat"] svg[data-kind="e1rm"] circle.dot`)),
		text(`section[data-exercise="back-squat"] .meta`, &latest),
		shot("progress.png"),
		chromedp.Navigate(s.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#plan`)),
		shot("plan.png"),
		chromedp.Navigate(s.srv.URL+"/progress"),
		chromedp.WaitVisible(chromedp.CSS(`section[data-exercise="back-squat"]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	dots, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('section[data-exercise="back-squat"] svg[data-kind="e1rm"] circle.dot').length`))
	if err != nil {
		t.Fatalf("count chart points: %v", err)
	}
	if !strings.Contains(banner, "DEVELOPMENT MODE") {
		t.Errorf("dev banner = %q", banner)
	}
	if !strings.Contains(flash, "logged") {
		t.Errorf("flash = %q", flash)
	}
	if !strings.Contains(historyRow, "Back squat") || !strings.Contains(historyRow, "5 @ 100 kg, 5 @ 100 kg, 4 @ 100 kg") {
		t.Errorf("history row = %q", historyRow)
	}
	// The chart draws the sessions of its window (the last 26 weeks), the
	// new one last, and its caption counts them.
	caption, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`section[data-exercise="back-squat"] figure.chart-e1rm figcaption`)))
	if err != nil {
		t.Fatalf("chart caption: %v", err)
	}
	if dots < 2 || dots > min(squats+1, 120) || !strings.Contains(caption, fmt.Sprintf(": %d sessions, ", dots)) {
		t.Errorf("%d points on the squat chart (%d squats logged), caption %q", dots, squats+1, caption)
	}
	if today := time.Now().Format("2 Jan 2006"); !strings.Contains(latest, today) {
		t.Errorf("latest squat %q is not today's workout (%s)", latest, today)
	}

	// The consumer stored it: the browser's workout is in the database once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := s.db.Collection(store.Collection).CountDocuments(cctx, map[string]any{"user_id": devUser, "exercise": "back-squat"})
		ccancel()
		if err == nil && n == int64(squats+1) {
			break
		}
		if time.Now().After(deadline) || n > int64(squats+1) {
			t.Fatalf("stored %d squats, want %d: the browser's workout once (err %v)", n, squats+1, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
