package web

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// chromium finds Debian's Chromium; scripts/install-deps.sh installs it,
// so under CI a missing browser fails the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (scripts/install-deps.sh)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// browserArtifacts is $TEST_ARTIFACTS/web when set, else the test's
// temporary directory (logged, removed after the test).
func browserArtifacts(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if a := os.Getenv("TEST_ARTIFACTS"); a != "" {
		d = filepath.Join(a, "web")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// browserZone is a time zone whose date differs from UTC's right now, so
// that a form dated in UTC shows the wrong day there.
func browserZone(now time.Time) string {
	if now.UTC().Hour() >= 11 {
		return "Pacific/Kiritimati" // UTC+14: already tomorrow
	}
	return "Pacific/Pago_Pago" // UTC-11: still yesterday
}

// TestBrowserLogForm drives the log form in a real headless Chromium at a
// phone's width (390 px) in a time zone whose day is not UTC's: the unit
// of the user's history is preselected, the date is the browser's day, the
// notes field lets through exactly what the server accepts (500
// characters, line breaks and two-byte letters included), and the chart
// text is readable; with a history never read, the plan page says the plan
// is unavailable. Screenshots (phone and desktop) are kept.
func TestBrowserLogForm(t *testing.T) {
	exe := chromium(t)
	start := time.Now()
	// A lifter in pounds: bench press, and pull-ups with 25 lb added.
	var ws []workout.Workout
	for i := range 8 {
		for _, ex := range []struct {
			key    string
			weight float64
		}{{"bench-press", 185 + 5*float64(i)}, {"pull-up", 25}} {
			w := sample(len(ws)+1, 0, ex.key, ex.weight, 5, 5, 5)
			w.PerformedAt = start.AddDate(0, 0, -3*(8-i)).UTC()
			w.Unit = workout.Pounds
			ws = append(ws, w)
		}
	}
	e := &env{pub: &fakePublisher{}, rd: newFakeReader(ws...)}
	srv, err := New(Options{Publisher: e.pub, Reader: e.rd, Auth: access.Dev{User: devUser}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()

	zone := browserZone(start)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	artifacts := browserArtifacts(t)
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			p := filepath.Join(artifacts, name)
			t.Logf("screenshot: %s", p)
			return os.WriteFile(p, png, 0o644)
		})
	}
	value := func(sel string, dst *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Value(chromedp.CSS(sel))(ctx, tg)
			*dst = v
			return err
		})
	}

	// What a user types: 250 two-byte letters and 125 lines of one, 500
	// characters as the browser counts them, then more it must refuse.
	notes := strings.Repeat("ü", 250) + strings.Repeat("\nx", 125)
	var unit, date, typed, flash string
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: zone})
			return err
		}),
		// Headless Chromium's window is at least 500 px wide: emulate the phone.
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.URL+"/log"),
		chromedp.WaitVisible(chromedp.CSS(`#log-form`)),
		value(`#unit`, &unit),
		value(`#date`, &date),
		chromedp.SetValue(chromedp.CSS(`#exercise`), "bench-press"),
		chromedp.SendKeys(chromedp.CSS(`#reps_0`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_0`), "225"),
		chromedp.SendKeys(chromedp.CSS(`#notes`), notes+"overflow"),
		value(`#notes`, &typed),
		shot("log-form-390.png"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		// The history's confirmation, or the form again with its errors.
		chromedp.WaitVisible(chromedp.CSS(`#flash, p.error`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[string](`[...document.querySelectorAll('#flash, p.error')].map(e => e.textContent).join('; ')`)(ctx, tg)
			flash = v
			return err
		}),
	)
	if err != nil {
		t.Fatalf("log form: %v", err)
	}
	if unit != "lb" {
		t.Errorf("unit preselected %q for a user who logs in pounds", unit)
	}
	today := start.In(loc).Format(DateLayout)
	if date != today {
		t.Errorf("form date %q, want the browser's day %s in %s (UTC: %s)", date, today, zone, start.UTC().Format(DateLayout))
	}
	if typed != notes {
		t.Errorf("the notes field kept %d characters (%q…), want the first 500", utf8.RuneCountInString(typed), typed[max(0, len(typed)-10):])
	}
	pub := e.pub.all()
	if len(pub) != 1 || !strings.Contains(flash, "logged") {
		t.Fatalf("published %d, flash %q", len(pub), flash)
	}
	w := pub[0]
	if w.Unit != workout.Pounds || utf8.RuneCountInString(w.Notes) != workout.MaxNotesLength {
		t.Errorf("stored unit %s, notes of %d characters", w.Unit, utf8.RuneCountInString(w.Notes))
	}
	if got := w.PerformedAt.In(loc).Format(DateLayout); got != today || w.PerformedAt.Before(start.Add(-time.Minute)) {
		t.Errorf("performed at %v (%s there), want now, today in %s", w.PerformedAt, got, zone)
	}

	// Progress at 390 px: chart text about 12 px, axis titles drawn.
	var tickPx float64
	var titles int
	err = chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/progress"),
		chromedp.WaitVisible(chromedp.CSS(`section[data-exercise="pull-up"] svg[data-kind="e1rm"] circle.dot`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			tickPx, err = chromedp.Evaluate[float64](`(() => { const t = document.querySelector('svg text.tick'); const svg = t.ownerSVGElement;
				return parseFloat(getComputedStyle(t).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width; })()`)(ctx, tg)
			if err != nil {
				return err
			}
			titles, err = chromedp.Evaluate[int](`document.querySelectorAll('svg text.axis-title').length`)(ctx, tg)
			return err
		}),
		shot("progress-390.png"),
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#plan`)),
		shot("plan-390.png"),
	)
	if err != nil {
		t.Fatalf("progress: %v", err)
	}
	t.Logf("chart tick text %.1f px at 390 px", tickPx)
	if tickPx < 11 {
		t.Errorf("chart tick text is %.1f px on a 390 px screen, want at least 11", tickPx)
	}
	if titles == 0 {
		t.Error("charts have no axis titles")
	}

	// The same pages on a desktop, and the plan of a history never read.
	unread := &env{pub: &fakePublisher{}, rd: newFakeReader(ws...)}
	unread.rd.stale = true
	srvUnread, err := New(Options{Publisher: unread.pub, Reader: unread.rd, Auth: access.Dev{User: devUser}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	tsUnread := httptest.NewServer(srvUnread)
	defer tsUnread.Close()
	var notice string
	var plans int
	err = chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(ts.URL+"/progress"),
		chromedp.WaitVisible(chromedp.CSS(`svg[data-kind="volume"]`)),
		shot("progress-1280.png"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(tsUnread.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#plan-unavailable`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			var err error
			if notice, err = chromedp.Text(chromedp.CSS(`#plan-unavailable`))(ctx, tg); err != nil {
				return err
			}
			plans, err = chromedp.Evaluate[int](`document.querySelectorAll('#plan').length`)(ctx, tg)
			return err
		}),
		shot("plan-unavailable-390.png"),
	)
	if err != nil {
		t.Fatalf("desktop and unread history: %v", err)
	}
	if !strings.Contains(notice, "unavailable") || plans != 0 {
		t.Errorf("unread history: notice %q, %d plans shown", notice, plans)
	}
}
