package transfer

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

var now = time.Date(2026, 11, 20, 18, 30, 0, 0, time.UTC)

func sampleWorkouts() []workout.Workout {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	return []workout.Workout{
		{ID: "0a1b2c3d-0000-4000-8000-000000000001", UserID: "ana", Exercise: "back-squat",
			PerformedAt: time.Date(2026, 11, 1, 7, 30, 0, 123456789, berlin), LoggedAt: time.Date(2026, 11, 1, 8, 0, 0, 5e6, time.UTC),
			Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 102.5, RPE: 7.5}, {Reps: 5, Weight: 0.1 + 0.2}, {Reps: 3, Weight: 102.5, RPE: 10}},
			Notes: "knees \"ok\", belt on\nsecond line, ünïcödé"},
		{ID: "0a1b2c3d-0000-4000-8000-000000000002", UserID: "ana", Exercise: "plank",
			PerformedAt: time.Date(2026, 11, 2, 18, 0, 0, 0, time.UTC), LoggedAt: time.Date(2026, 11, 2, 18, 1, 0, 0, time.UTC),
			Unit: workout.Pounds, Sets: []workout.Set{{Reps: 600}}},
		{ID: "0a1b2c3d-0000-4000-8000-000000000003", UserID: "ana", Exercise: "pull-up",
			PerformedAt: time.Date(2026, 11, 3, 18, 0, 0, 0, time.UTC), LoggedAt: time.Date(2026, 11, 3, 18, 1, 0, 0, time.UTC),
			Unit: workout.Pounds, Sets: []workout.Set{{Reps: 8, Weight: 25}, {Reps: 6}}},
	}
}

// equalWorkouts compares as the store does: times as instants.
func equalWorkouts(t *testing.T, got, want []workout.Workout) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d workouts, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.PerformedAt.Equal(w.PerformedAt) || !g.LoggedAt.Equal(w.LoggedAt) {
			t.Errorf("workout %d: times %v/%v, want %v/%v", i, g.PerformedAt, g.LoggedAt, w.PerformedAt, w.LoggedAt)
		}
		g.PerformedAt, g.LoggedAt, w.PerformedAt, w.LoggedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("workout %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	want := sampleWorkouts()
	o := Options{UserID: "ana", Now: now}
	t.Run("csv", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteCSV(&buf, want); err != nil {
			t.Fatal(err)
		}
		res, err := ReadCSV(&buf, o)
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("read back: %v, rejected %+v", err, res.Rejected)
		}
		equalWorkouts(t, res.Workouts, want)
	})
	t.Run("json", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, want); err != nil {
			t.Fatal(err)
		}
		res, err := ReadJSON(&buf, o)
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("read back: %v, rejected %+v", err, res.Rejected)
		}
		equalWorkouts(t, res.Workouts, want)
	})
	t.Run("csv rows in any order", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteCSV(&buf, want); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		// Swap the first workout's first and third set rows (the notes hold
		// a line break, so each of its rows spans two lines).
		rows := []string{lines[1] + "\n" + lines[2], lines[3] + "\n" + lines[4], lines[5] + "\n" + lines[6]}
		shuffled := strings.Join(append([]string{lines[0], rows[2], rows[1], rows[0]}, lines[7:]...), "\n")
		res, err := ReadCSV(strings.NewReader(shuffled), o)
		if err != nil || len(res.Rejected) != 0 {
			t.Fatalf("read: %v, rejected %+v", err, res.Rejected)
		}
		equalWorkouts(t, res.Workouts, want)
	})
}

func TestReadOwnCSVRejections(t *testing.T) {
	in := strings.Join([]string{
		strings.Join(Header, ","),
		"0a1b2c3d-0000-4000-8000-000000000001,2026-11-01T07:30:00Z,2026-11-01T08:00:00Z,back-squat,kg,1,5,100,,",
		"0a1b2c3d-0000-4000-8000-000000000001,2026-11-01T07:30:00Z,2026-11-01T08:00:00Z,back-squat,kg,2,five,100,,",
		"not-an-id,2026-11-01T07:30:00Z,,back-squat,kg,1,5,100,,",
		"0a1b2c3d-0000-4000-8000-000000000002,2026-11-01,,deadlift,kg,1,5,100,,",
		"0a1b2c3d-0000-4000-8000-000000000003,2026-11-01T07:30:00Z,,curl,kg,1,5,20,,",
		"0a1b2c3d-0000-4000-8000-000000000004,2026-11-01T07:30:00Z,,deadlift,kg,1,5,150,,",
	}, "\n")
	res, err := ReadCSV(strings.NewReader(in), Options{UserID: "ana", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"3:reps": true, "4:workout_id": true, "5:performed_at": true, "6:exercise": true}
	got := map[string]bool{}
	for _, r := range res.Rejected {
		got[fmt.Sprintf("%d:%s", r.Line, r.Field)] = true
		if r.Reason == "" {
			t.Errorf("rejection without a reason: %+v", r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rejected %v, want %v (%+v)", got, want, res.Rejected)
	}
	if len(res.Workouts) != 1 || res.Workouts[0].ID != "0a1b2c3d-0000-4000-8000-000000000004" || !res.Workouts[0].LoggedAt.Equal(now) {
		t.Errorf("imported %+v, want only the valid deadlift stamped now", res.Workouts)
	}
}

const strongCSV = `Date,Workout Name,Duration,Exercise Name,Set Order,Weight,Reps,Distance,Seconds,Notes,Workout Notes,RPE
2026-10-05 18:02:11,"Evening",1h 5m,"Squat (Barbell)",W,60,5,0,0,"","Felt good",
2026-10-05 18:02:11,"Evening",1h 5m,"Squat (Barbell)",1,100,5,0,0,"","Felt good",8
2026-10-05 18:02:11,"Evening",1h 5m,"Squat (Barbell)",2,100,5,0,0,"last rep slow","Felt good",9
2026-10-05 18:02:11,"Evening",1h 5m,"Plank",1,0,0,0,75,"","Felt good",
2026-10-05 18:02:11,"Evening",1h 5m,"Bicep Curl (Dumbbell)",1,12,10,0,0,"","Felt good",
2026-10-07 18:00:00,"Evening",50m,"Bench Press (Barbell)",1,70,5,0,0,"","",
2026-10-07 18:00:00,"Evening",50m,"Bench Press (Barbell)",2,70,lots,0,0,"","",
2026-10-09 18:00:00,"Evening",50m,"Deadlift (Barbell)",1,140,3,0,0,"","",
`

func TestReadStrong(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	o := Options{UserID: "ana", Unit: workout.Kilograms, Location: berlin, Now: now}
	res, err := ReadCSV(strings.NewReader(strongCSV), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 1 {
		t.Errorf("skipped %d warm-up sets, want 1", res.Skipped)
	}
	rejected := map[string]bool{}
	for _, r := range res.Rejected {
		rejected[fmt.Sprintf("%d:%s", r.Line, r.Field)] = true
	}
	if want := map[string]bool{"6:exercise name": true, "8:reps": true}; !reflect.DeepEqual(rejected, want) {
		t.Errorf("rejected %v, want %v (%+v)", rejected, want, res.Rejected)
	}
	if len(res.Workouts) != 3 {
		t.Fatalf("imported %d workouts, want squat, plank and deadlift: %+v", len(res.Workouts), res.Workouts)
	}
	sq := res.Workouts[0]
	if sq.Exercise != "back-squat" || len(sq.Sets) != 2 || sq.Sets[1].RPE != 9 || sq.Notes != "Felt good\nlast rep slow" ||
		!sq.PerformedAt.Equal(time.Date(2026, 10, 5, 18, 2, 11, 0, berlin)) || sq.Unit != workout.Kilograms {
		t.Errorf("squat %+v", sq)
	}
	if pl := res.Workouts[1]; pl.Exercise != "plank" || pl.Sets[0].Reps != 75 {
		t.Errorf("plank %+v: the seconds are its reps", pl)
	}
	// The same file again gives the same ids: importing it twice logs
	// nothing twice. Another user gets other ids.
	again, _ := ReadCSV(strings.NewReader(strongCSV), o)
	o.UserID = "bob"
	other, _ := ReadCSV(strings.NewReader(strongCSV), o)
	for i := range res.Workouts {
		if again.Workouts[i].ID != res.Workouts[i].ID || other.Workouts[i].ID == res.Workouts[i].ID || !workout.ValidID(res.Workouts[i].ID) {
			t.Errorf("workout %d ids: %s, again %s, other user %s", i, res.Workouts[i].ID, again.Workouts[i].ID, other.Workouts[i].ID)
		}
	}
	if _, err := ReadCSV(strings.NewReader(strongCSV), Options{UserID: "ana", Now: now}); !errors.Is(err, ErrFormat) {
		t.Errorf("Strong file without a unit: %v", err)
	}
}

func TestReadUnreadable(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"other header":   "a,b,c\n1,2,3\n",
		"broken quoting": strings.Join(Header, ",") + "\n\"unterminated,1\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadCSV(strings.NewReader(in), Options{UserID: "ana", Now: now}); !errors.Is(err, ErrFormat) {
				t.Errorf("error %v, want ErrFormat", err)
			}
		})
	}
	if _, err := ReadJSON(strings.NewReader(`[1,2]`), Options{UserID: "ana", Now: now}); !errors.Is(err, ErrFormat) {
		t.Errorf("json array: %v", err)
	}
	res, err := ReadJSON(strings.NewReader(`{"workouts":[{"id":"0a1b2c3d-0000-4000-8000-000000000009","user_id":"bob","deleted":true,"version":5,"exercise":"deadlift","performed_at":"2026-11-01T07:30:00Z","unit":"kg","sets":[{"reps":5,"weight":100}]},{"exercise":1}]}`),
		Options{UserID: "ana", Now: now})
	if err != nil || len(res.Workouts) != 0 || len(res.Rejected) != 2 || *res.Rejected[0].Index != 0 || res.Rejected[0].Field != "deleted" {
		t.Errorf("json with a deleted and a malformed workout: %v %+v", err, res.Rejected)
	}
}
