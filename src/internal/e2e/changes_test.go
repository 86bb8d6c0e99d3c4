package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// call sends an API request with an optional JSON body and decodes the
// answer into out (when not nil).
func call(t *testing.T, s *stack, method, path, body string, out any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, data, err)
		}
	}
	return res.StatusCode
}

// waitStoredVersion waits until the stored copy of id has the version
// (and deleted mark) wanted, and returns it.
func waitStoredVersion(t *testing.T, s *stack, id string, version int64, deleted bool) workout.Workout {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got workout.Workout
		err := s.db.Collection(store.Collection).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&got)
		if err == nil && got.Version == version && got.Deleted == deleted {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored copy of %s after 20 s: %+v (error %v); want version %d deleted=%v", id, got, err, version, deleted)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type change struct {
	ID        string     `json:"id"`
	Version   int64      `json:"version"`
	UndoUntil *time.Time `json:"undo_until"`
	Error     string     `json:"error"`
}

// TestEditDeleteUndo edits, deletes and restores a workout through the
// API, the broker and the consumer into the store, and checks that the
// user's reads follow every step at once and after the store has it.
func TestEditDeleteUndo(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true})
	at := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	id, status := postWorkout(t, s, 0, at)
	if status != http.StatusAccepted {
		t.Fatalf("post: %d", status)
	}
	waitStoredVersion(t, s, id, 0, false)

	edit := fmt.Sprintf(`{"exercise":"back-squat","performed_at":%q,"unit":"kg","sets":[{"reps":3,"weight":140,"rpe":9}],"notes":"heavy triple"}`, at.Format(time.RFC3339))
	var c change
	if st := call(t, s, http.MethodPut, "/api/v1/workouts/"+id, edit, &c); st != http.StatusAccepted || c.Version == 0 {
		t.Fatalf("edit: %d %+v", st, c)
	}
	var got struct{ Workout workout.Workout }
	if st := call(t, s, http.MethodGet, "/api/v1/workouts/"+id, "", &got); st != http.StatusOK || got.Workout.Sets[0].Weight != 140 {
		t.Fatalf("read after edit: %d %+v", st, got.Workout)
	}
	stored := waitStoredVersion(t, s, id, c.Version, false)
	if stored.Notes != "heavy triple" || !stored.PerformedAt.Equal(at) || stored.Sets[0].RPE != 9 {
		t.Errorf("stored edit %+v", stored)
	}
	// An edit that read an older version is refused.
	req, _ := http.NewRequest(http.MethodPut, s.srv.URL+"/api/v1/workouts/"+id, strings.NewReader(edit))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"0"`)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusPreconditionFailed {
		t.Errorf("edit with a stale If-Match: %d, want 412", res.StatusCode)
	}

	var del change
	if st := call(t, s, http.MethodDelete, "/api/v1/workouts/"+id, "", &del); st != http.StatusAccepted || del.Version <= c.Version || del.UndoUntil == nil {
		t.Fatalf("delete: %d %+v", st, del)
	}
	var again change
	if st := call(t, s, http.MethodDelete, "/api/v1/workouts/"+id, "", &again); st != http.StatusAccepted || again.Version != del.Version {
		t.Errorf("retried delete: %d %+v, want the first delete's answer %+v", st, again, del)
	}
	if st := call(t, s, http.MethodGet, "/api/v1/workouts/"+id, "", nil); st != http.StatusNotFound {
		t.Errorf("read after delete: %d, want 404", st)
	}
	var list struct{ Workouts []workout.Workout }
	call(t, s, http.MethodGet, "/api/v1/workouts", "", &list)
	if len(list.Workouts) != 0 {
		t.Errorf("list after delete: %+v", list.Workouts)
	}
	waitStoredVersion(t, s, id, del.Version, true)
	if st := call(t, s, http.MethodPut, "/api/v1/workouts/"+id, edit, nil); st != http.StatusNotFound {
		t.Errorf("edit of a deleted workout: %d, want 404", st)
	}

	var undo change
	if st := call(t, s, http.MethodPost, "/api/v1/workouts/"+id+"/undo", "", &undo); st != http.StatusAccepted || undo.Version <= del.Version {
		t.Fatalf("undo: %d %+v", st, undo)
	}
	restored := waitStoredVersion(t, s, id, undo.Version, false)
	if restored.Notes != "heavy triple" {
		t.Errorf("undo restored %+v, want the edited content", restored)
	}
	if st := call(t, s, http.MethodGet, "/api/v1/workouts/"+id, "", &got); st != http.StatusOK || got.Workout.Version != undo.Version {
		t.Errorf("read after undo: %d %+v", st, got.Workout)
	}

	// Refused: the server's own fields, another user's id, unknown ids.
	if st := call(t, s, http.MethodPost, "/api/v1/workouts", `{"exercise":"back-squat","performed_at":"2026-01-01T10:00:00Z","unit":"kg","sets":[{"reps":1,"weight":1}],"deleted":true}`, nil); st != http.StatusBadRequest {
		t.Errorf("POST with deleted: %d, want 400", st)
	}
	unknown := "00000000-0000-4000-8000-000000000001"
	for _, m := range []string{http.MethodPut, http.MethodDelete} {
		if st := call(t, s, m, "/api/v1/workouts/"+unknown, map[string]string{http.MethodPut: edit}[m], nil); st != http.StatusNotFound {
			t.Errorf("%s of an unknown id: %d, want 404", m, st)
		}
	}
	if st := call(t, s, http.MethodPost, "/api/v1/workouts/"+unknown+"/undo", "", nil); st != http.StatusNotFound {
		t.Errorf("undo of an unknown id: %d, want 404", st)
	}
}
