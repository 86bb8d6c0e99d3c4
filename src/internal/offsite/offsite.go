// Package offsite prepares a backup run for the trip off the node: it packs
// the run into one tar file, names the objects it is uploaded as, and keeps
// the backup volume to its retention.
//
// A run is a directory named by its UTC start time (Stamp) under the
// backup volume; its archive is <stamp>.tar beside it.
package offsite

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// StampLayout names runs: sortable, no colons (valid in object keys and
// file names everywhere).
const StampLayout = "20060102T150405Z"

// Stamp is t's run name.
func Stamp(t time.Time) string { return t.UTC().Format(StampLayout) }

// Retention is how many runs the volume and the bucket keep: the newest run
// of each of the last Daily days and of each of the last Weekly ISO weeks.
type Retention struct {
	Daily, Weekly int
}

// Keys are the object keys a run is uploaded as: always under daily/, and
// under weekly/ too for a Sunday's run, so that a bucket lifecycle rule per
// prefix (expire daily/ after Daily days, weekly/ after Weekly weeks)
// applies the same retention off the node.
func Keys(prefix string, run time.Time) []string {
	name := Stamp(run) + ".tar"
	keys := []string{prefix + "/daily/" + name}
	if run.UTC().Weekday() == time.Sunday {
		keys = append(keys, prefix+"/weekly/"+name)
	}
	return keys
}

// Keep returns the runs r retains out of runs.
func (r Retention) Keep(runs []time.Time) map[time.Time]bool {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b time.Time) int { return b.Compare(a) })
	keep := map[time.Time]bool{}
	days, weeks := map[string]bool{}, map[string]bool{}
	for _, t := range sorted {
		day := t.UTC().Format("2006-01-02")
		y, w := t.UTC().ISOWeek()
		week := fmt.Sprintf("%d-%02d", y, w)
		if !days[day] && len(days) < r.Daily {
			days[day] = true
			keep[t] = true
		}
		if !weeks[week] && len(weeks) < r.Weekly {
			weeks[week] = true
			keep[t] = true
		}
	}
	return keep
}

// Prune removes from dir the runs (directories and archives named by a
// stamp) that r does not retain, and leaves anything else alone.
func (r Retention) Prune(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	byRun := map[time.Time][]string{}
	for _, e := range entries {
		t, err := time.Parse(StampLayout, strings.TrimSuffix(e.Name(), ".tar"))
		if err != nil {
			continue
		}
		byRun[t] = append(byRun[t], filepath.Join(dir, e.Name()))
	}
	var runs []time.Time
	for t := range byRun {
		runs = append(runs, t)
	}
	keep := r.Keep(runs)
	var errs []error
	for t, paths := range byRun {
		if keep[t] {
			continue
		}
		for _, p := range paths {
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, fmt.Errorf("prune: %w", err))
				continue
			}
			logger.Info("pruned", "path", p)
		}
	}
	return errors.Join(errs...)
}

// Tar packs the tree at src into the file dst, with names relative to src's
// parent (so the archive of /backup/<stamp> unpacks into <stamp>/), and
// syncs it. The files are stored as they are: a dump is already gzipped.
func Tar(src, dst string) (err error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(dst)
		}
	}()
	tw := tar.NewWriter(f)
	base := filepath.Dir(src)
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s: not a regular file or directory", path)
		}
		rel, err := filepath.Rel(base, path)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("pack %s: %w", src, err)
	}
	if err := errors.Join(tw.Close(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
