package e2e

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/browsertest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// TestBrowserExportImport: on the Data page a user downloads the CSV export
// (the link's file), and uploads a Strong export with
// one unknown exercise: the report shows what was imported and the rejected
// line, and the workouts reach the store.
func TestBrowserExportImport(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true})
	at := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Millisecond)
	w := workout.Workout{ID: uuid.NewString(), UserID: devUser, Exercise: "deadlift", PerformedAt: at, Unit: workout.Kilograms,
		Sets: []workout.Set{{Reps: 3, Weight: 150, RPE: 8}}, Notes: "belt, \"hook grip\"", LoggedAt: at}
	if _, err := s.db.Collection(store.Collection).InsertOne(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	strong := filepath.Join(t.TempDir(), "strong.csv")
	if err := os.WriteFile(strong, []byte("Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE\n"+
		"2026-10-05 18:02:11,Evening,1h,Squat (Barbell),W,135,5,0,0,,,\n"+
		"2026-10-05 18:02:11,Evening,1h,Squat (Barbell),1,225,5,0,0,,,8\n"+
		"2026-10-05 18:02:11,Evening,1h,Squat (Barbell),2,225,5,0,0,,,9\n"+
		"2026-10-05 18:02:11,Evening,1h,Zercher Squat (Barbell),1,185,8,0,0,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	browser := browsertest.Start(t, 412, 915)
	artifacts := browsertest.Artifacts(t, "e2e")
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(s.srv.URL+"/import")); err != nil {
		t.Fatalf("data page: %v", err)
	}
	// The page's export link, downloaded (the policy forbids the page's
	// own fetches, so the test fetches what the link names).
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("export-csv").href`))
	if err != nil {
		t.Fatalf("export link: %v", err)
	}
	res, err := s.client.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	export := string(data)
	if !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("export is not a download: %q", res.Header.Get("Content-Disposition"))
	}
	if !strings.Contains(export, w.ID+",") || !strings.Contains(export, `"belt, ""hook grip"""`) || !strings.Contains(export, ",deadlift,kg,1,3,150,8,") {
		t.Errorf("csv export:\n%s", export)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{strong}),
		chromedp.SetValue(chromedp.CSS(`#unit`), "lb"),
		browsertest.Screenshot(t, artifacts, "import-form.png"))
	if err != nil {
		t.Fatalf("import form: %v", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#import-submit`))); err != nil {
		t.Fatalf("import: %v", err)
	}
	report, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#import-report`)))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if err := chromedp.Do(ctx, browsertest.Screenshot(t, artifacts, "import-report.png")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 imported", "1 warm-up set skipped", "Zercher Squat (Barbell)", "5"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	waitUserCount(t, s, devUser, 2)
}
