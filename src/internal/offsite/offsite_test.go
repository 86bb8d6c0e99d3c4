package offsite

import (
	"archive/tar"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestKeep(t *testing.T) {
	// 60 nightly runs at 02:00 up to Friday 2026-12-04, plus a manual
	// run on its evening.
	var runs []time.Time
	last := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	for i := range 60 {
		runs = append(runs, last.AddDate(0, 0, -i))
	}
	manual := last.Add(18 * time.Hour)
	runs = append(runs, manual)
	keep := Retention{Daily: 7, Weekly: 4}.Keep(runs)
	var got []string
	for _, r := range runs {
		if keep[r] {
			got = append(got, r.Format("01-02T15"))
		}
	}
	slices.Sort(got)
	// Daily: the newest run of Dec 4 (the manual one) and of Nov 28 to
	// Dec 3. Weekly: the newest of the ISO weeks of Dec 4, Nov 29, Nov 22
	// and Nov 15 (Sundays end ISO weeks).
	want := []string{"11-15T02", "11-22T02", "11-28T02", "11-29T02", "11-30T02", "12-01T02", "12-02T02", "12-03T02", "12-04T20"}
	if !slices.Equal(got, want) {
		t.Errorf("kept %v\nwant %v", got, want)
	}
}

func TestKeys(t *testing.T) {
	friday := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	if got := Keys("mongodb", friday); !slices.Equal(got, []string{"mongodb/daily/20261204T020000Z.tar"}) {
		t.Errorf("friday: %v", got)
	}
	sunday := friday.AddDate(0, 0, 2)
	if got := Keys("mongodb", sunday); !slices.Equal(got, []string{"mongodb/daily/20261206T020000Z.tar", "mongodb/weekly/20261206T020000Z.tar"}) {
		t.Errorf("sunday: %v", got)
	}
}

func TestPruneAndTar(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	for i := range 10 {
		run := filepath.Join(dir, Stamp(day.AddDate(0, 0, -i)))
		if err := os.MkdirAll(filepath.Join(run, "fitness"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, "fitness", "workouts.bson.gz"), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Tar(run, run+".tar"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lost+found"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (Retention{Daily: 3, Weekly: 1}).Prune(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"20261202T020000Z", "20261202T020000Z.tar", "20261203T020000Z", "20261203T020000Z.tar",
		"20261204T020000Z", "20261204T020000Z.tar", "lost+found"}
	if !slices.Equal(names, want) {
		t.Errorf("after prune: %v\nwant %v", names, want)
	}

	f, err := os.Open(filepath.Join(dir, "20261204T020000Z.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var members []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, h.Name)
	}
	if want := []string{"20261204T020000Z/", "20261204T020000Z/fitness/", "20261204T020000Z/fitness/workouts.bson.gz"}; !slices.Equal(members, want) {
		t.Errorf("archive holds %v, want %v", members, want)
	}
}
