package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/transfer"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// send makes a request as user.
func send(t *testing.T, s *stack, user, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(userHeader, user)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, data
}

type report struct {
	Workouts, Imported, Already, Failed int
	Rejected                            []transfer.Rejection
	Seconds                             float64
}

func importAs(t *testing.T, s *stack, user, ctype, query string, body []byte) report {
	t.Helper()
	st, data := send(t, s, user, http.MethodPost, "/api/v1/import"+query, ctype, body)
	var rep report
	if err := json.Unmarshal(data, &rep); err != nil || st != http.StatusOK {
		t.Fatalf("import as %s: %d %s", user, st, data)
	}
	return rep
}

// waitUserCount waits until user has n stored live workouts.
func waitUserCount(t *testing.T, s *stack, user string, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := s.db.Collection(store.Collection).CountDocuments(context.Background(), bson.D{{Key: "user_id", Value: user}, {Key: "deleted", Value: bson.D{{Key: "$ne", Value: true}}}})
		if err == nil && got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d stored workouts after 60 s (error %v), want %d", user, got, err, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// content is a workout without what an import changes: its id, owner and
// version.
func content(ws []workout.Workout) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		w.ID, w.UserID, w.Version = "", "", 0
		w.PerformedAt, w.LoggedAt = w.PerformedAt.UTC(), w.LoggedAt.UTC()
		data, _ := json.Marshal(w)
		out[i] = string(data)
	}
	slices.Sort(out)
	return out
}

// TestExportImport exports a user's history as CSV and JSON and imports
// it into other accounts through the broker and the consumer: the stored
// workouts are the same, importing again logs nothing, the owner's own
// export is already there, and a deleted workout is not exported.
func TestExportImport(t *testing.T) {
	s := newStack(t, stackOptions{consumer: true, auth: headerAuth{}})
	base := time.Now().AddDate(0, -2, 0).UTC().Truncate(time.Millisecond)
	var docs []any
	var live []workout.Workout
	for i := range 40 {
		w := workout.Workout{ID: uuid.NewString(), UserID: "ana", Exercise: []string{"back-squat", "plank", "pull-up", "bench-press"}[i%4],
			PerformedAt: base.Add(time.Duration(i) * 25 * time.Hour), LoggedAt: base.Add(time.Duration(i)*25*time.Hour + time.Minute),
			Unit: []workout.Unit{workout.Kilograms, workout.Pounds}[i%2], Sets: []workout.Set{{Reps: 5, Weight: 60 + float64(i)*1.25, RPE: 8.5}, {Reps: 3, Weight: 61.3}}}
		switch w.Exercise {
		case "plank":
			w.Sets = []workout.Set{{Reps: 90}}
		case "pull-up":
			w.Sets[1].Weight = 0
		}
		if i%5 == 0 {
			w.Notes = fmt.Sprintf("note %d, with \"quotes\"\nand a second line", i)
		}
		if i == 7 {
			w.Version, w.Deleted = 1_700_000_000_000, true
		} else {
			live = append(live, w)
		}
		docs = append(docs, w)
	}
	if _, err := s.db.Collection(store.Collection).InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}

	st, csvFile := send(t, s, "ana", http.MethodGet, "/api/v1/export?format=csv", "", nil)
	if st != http.StatusOK || !strings.HasPrefix(string(csvFile), strings.Join(transfer.Header, ",")) {
		t.Fatalf("csv export: %d %.200s", st, csvFile)
	}
	st, jsonFile := send(t, s, "ana", http.MethodGet, "/api/v1/export?format=json", "", nil)
	var exported transfer.Export
	if err := json.Unmarshal(jsonFile, &exported); err != nil || st != http.StatusOK {
		t.Fatalf("json export: %d %v", st, err)
	}
	if got, want := content(exported.Workouts), content(live); !slices.Equal(got, want) {
		t.Fatalf("json export differs from the stored live workouts:\n got %v\nwant %v", got, want)
	}

	if rep := importAs(t, s, "ana", "text/csv", "", csvFile); rep.Already != len(live) || rep.Imported != 0 {
		t.Errorf("ana importing her own export: %+v, want every workout already there", rep)
	}
	for user, file := range map[string][]byte{"bob": csvFile, "cy": jsonFile} {
		ctype := map[string]string{"bob": "text/csv", "cy": "application/json"}[user]
		rep := importAs(t, s, user, ctype, "", file)
		if rep.Workouts != len(live) || rep.Imported != len(live) || len(rep.Rejected) != 0 {
			t.Fatalf("%s import: %+v", user, rep)
		}
		waitUserCount(t, s, user, int64(len(live)))
		cur, err := s.db.Collection(store.Collection).Find(context.Background(), bson.D{{Key: "user_id", Value: user}})
		if err != nil {
			t.Fatal(err)
		}
		var stored []workout.Workout
		if err := cur.All(context.Background(), &stored); err != nil {
			t.Fatal(err)
		}
		if got, want := content(stored), content(live); !slices.Equal(got, want) {
			t.Errorf("%s's imported workouts differ from ana's:\n got %v\nwant %v", user, got, want)
		}
		// Again: nothing new.
		if rep := importAs(t, s, user, ctype, "", file); rep.Imported != 0 || rep.Already != len(live) {
			t.Errorf("%s importing again: %+v", user, rep)
		}
	}
	// Ana's workouts are untouched by the others' imports.
	waitUserCount(t, s, "ana", int64(len(live)))

	// A bad file is refused with the line; a bad row is reported.
	st, data := send(t, s, "dee", http.MethodPost, "/api/v1/import", "text/csv", []byte("a,b\n1,2\n"))
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(data), "line 1") {
		t.Errorf("unreadable file: %d %s", st, data)
	}
	strong := "Date,Workout Name,Exercise Name,Set Order,Weight,Reps,Seconds,Notes,Workout Notes,RPE\n" +
		"2026-10-05 18:02:11,Evening,Squat (Barbell),1,100,5,0,,,\n" +
		"2026-10-05 18:02:11,Evening,Zercher Squat,1,100,5,0,,,\n"
	rep := importAs(t, s, "dee", "text/csv", "?unit=kg&tz=Europe/Berlin", []byte(strong))
	if rep.Imported != 1 || len(rep.Rejected) != 1 || rep.Rejected[0].Line != 3 {
		t.Errorf("Strong import: %+v", rep)
	}
	if st, _ := send(t, s, "dee", http.MethodPost, "/api/v1/import", "text/csv", []byte(strong)); st != http.StatusUnprocessableEntity {
		t.Errorf("Strong import without a unit: %d", st)
	}
}
