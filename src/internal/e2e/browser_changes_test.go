package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/browsertest"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// TestBrowserEditDeleteUndo drives History in headless Chromium on a
// phone: edit a workout's weight, delete it, undo the delete (the store
// ends with the restored edit), then log a heavier set and see the
// record's badge and the records page.
func TestBrowserEditDeleteUndo(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true})
	at := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Millisecond)
	w := workout.Workout{ID: uuid.NewString(), UserID: devUser, Exercise: "bench-press", PerformedAt: at, Unit: workout.Kilograms,
		Sets: []workout.Set{{Reps: 5, Weight: 80}, {Reps: 5, Weight: 80}}, LoggedAt: at}
	if _, err := s.db.Collection(store.Collection).InsertOne(context.Background(), w); err != nil {
		t.Fatal(err)
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
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()

	// do runs steps; load runs steps that navigate and waits for the new
	// page, so that no query lands on the page being left.
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
	row := `tr[data-id="` + w.ID + `"]`
	var edited, afterEdit, deletedFlash, deletedList, restored string
	load("history", chromedp.Navigate(s.srv.URL+"/history"))
	load("edit link", chromedp.Click(chromedp.CSS(row+` a.edit`)))
	do("edit form",
		text(`h1`, &edited),
		chromedp.SetValue(chromedp.CSS(`#weight_0`), "82.5"),
		chromedp.SetValue(chromedp.CSS(`#weight_1`), "82.5"),
		shot("edit-form.png"))
	load("save", chromedp.Click(chromedp.CSS(`#submit`)))
	do("edited row", text(row, &afterEdit))
	load("delete", chromedp.Click(chromedp.CSS(row+` button.delete`)))
	do("deleted",
		text(`#flash`, &deletedFlash),
		text(`#deleted`, &deletedList),
		shot("history-deleted.png"))
	load("undo", chromedp.Click(chromedp.CSS(`#deleted li[data-id="`+w.ID+`"] button.undo`)))
	do("restored", text(row, &restored), shot("history-restored.png"))

	var recordFlash, badge, recordsPage string
	load("log form", chromedp.Navigate(s.srv.URL+"/log"))
	do("fill the log form",
		chromedp.SetValue(chromedp.CSS(`#exercise`), "bench-press"),
		chromedp.SetValue(chromedp.CSS(`#unit`), "kg"),
		chromedp.SendKeys(chromedp.CSS(`#reps_0`), "5"),
		chromedp.SendKeys(chromedp.CSS(`#weight_0`), "85"))
	load("log", chromedp.Click(chromedp.CSS(`#submit`)))
	do("record",
		text(`#flash`, &recordFlash),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.AttributeValue(chromedp.CSS(`tr.just-logged .pr`), "title")(ctx, tg)
			badge = v.Value
			return err
		}),
		shot("history-record.png"))
	load("records", chromedp.Navigate(s.srv.URL+"/records"))
	do("records page", text(`section[data-exercise="bench-press"]`, &recordsPage), shot("records.png"))
	if !strings.Contains(recordFlash, "New personal record") || !strings.Contains(badge, "heaviest 5 reps: 85 kg") {
		t.Errorf("after a heavier bench: flash %q, badge %q", recordFlash, badge)
	}
	if !strings.Contains(recordsPage, "Heaviest 5 reps: 85 kg") {
		t.Errorf("records page: %q", recordsPage)
	}
	if edited != "Edit workout" {
		t.Errorf("edit page heading %q", edited)
	}
	if !strings.Contains(afterEdit, "82.5 kg") {
		t.Errorf("row after the edit: %q", afterEdit)
	}
	if !strings.Contains(deletedFlash, "deleted") || !strings.Contains(deletedList, "Bench press") {
		t.Errorf("after delete: flash %q, deleted list %q", deletedFlash, deletedList)
	}
	if !strings.Contains(restored, "82.5 kg") {
		t.Errorf("restored row: %q", restored)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got workout.Workout
		err := s.db.Collection(store.Collection).FindOne(context.Background(), map[string]any{"_id": w.ID}).Decode(&got)
		if err == nil && got.Version > 0 && !got.Deleted && got.Sets[0].Weight == 82.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %+v (error %v); want the restored edit", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
