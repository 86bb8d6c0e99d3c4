package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/offsite"
	"github.com/homelab-gitops/homelab/src/internal/s3put"
)

// target is where a command writes: a directory or file given by hand
// (-out), or a new run under a backup volume (-root) that is then shipped
// (-ship) and pruned.
type target struct {
	out, root, prefix string
	ship              bool
	keep              offsite.Retention
	started           time.Time
	bucket            *s3put.Bucket // with -ship
}

func (t *target) flags(fs *flag.FlagSet, prefix string) {
	fs.StringVar(&t.out, "out", "", "write here (a directory or file named by hand)")
	fs.StringVar(&t.root, "root", "", "backup volume: write a new run <root>/<UTC time>/, then prune the volume")
	fs.BoolVar(&t.ship, "ship", false, "with -root: pack the run as <run>.tar and upload it to the S3 bucket (S3_* settings)")
	fs.StringVar(&t.prefix, "prefix", prefix, "object key prefix in the bucket")
	fs.IntVar(&t.keep.Daily, "keep-daily", 7, "runs kept: the newest of each of this many days")
	fs.IntVar(&t.keep.Weekly, "keep-weekly", 4, "runs kept: the newest of each of this many ISO weeks")
}

// check validates the flags and, with -ship, reads the bucket settings, so
// that a missing one fails the run before it dumps anything.
func (t *target) check(env envconf.Env) error {
	switch {
	case (t.out == "") == (t.root == ""):
		return usageError{errors.New("set exactly one of -out and -root")}
	case t.ship && t.root == "":
		return usageError{errors.New("-ship needs -root")}
	case t.keep.Daily < 1 || t.keep.Weekly < 0:
		return usageError{errors.New("-keep-daily must be at least 1 and -keep-weekly at least 0")}
	}
	if t.ship {
		b, err := bucketFromEnv(env)
		if err != nil {
			return usageError{err}
		}
		t.bucket = b
	}
	return nil
}

// dir returns the directory a run writes into, creating it.
func (t *target) dir() (string, error) {
	t.started = time.Now()
	dir := t.out
	if t.root != "" {
		dir = filepath.Join(t.root, offsite.Stamp(t.started))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return dir, nil
}

// finish ships and prunes a run written under -root.
func (t *target) finish(ctx context.Context, dir string, logger *slog.Logger) error {
	if t.root == "" {
		return nil
	}
	if t.bucket != nil {
		archive := dir + ".tar"
		if err := offsite.Tar(dir, archive); err != nil {
			return err
		}
		for _, key := range offsite.Keys(t.prefix, t.started) {
			start := time.Now()
			if err := t.bucket.Put(ctx, key, archive); err != nil {
				return err
			}
			logger.Info("uploaded", "bucket", t.bucket.Name, "key", key, "seconds", time.Since(start).Seconds())
		}
	}
	return t.keep.Prune(t.root, logger)
}

func bucketFromEnv(env envconf.Env) (*s3put.Bucket, error) {
	s := env.Settings()
	b := &s3put.Bucket{
		Endpoint:        s.String("S3_ENDPOINT", ""),
		Name:            s.String("S3_BUCKET", ""),
		Region:          s.String("S3_REGION", "us-east-1"),
		AccessKeyID:     s.String("S3_ACCESS_KEY_ID", ""),
		SecretAccessKey: s.String("S3_SECRET_ACCESS_KEY", ""),
	}
	for name, v := range map[string]string{"S3_ENDPOINT": b.Endpoint, "S3_BUCKET": b.Name, "S3_ACCESS_KEY_ID": b.AccessKeyID, "S3_SECRET_ACCESS_KEY": b.SecretAccessKey} {
		if v == "" {
			s.Fail(fmt.Errorf("%s (or %s_FILE) is required with -ship", name, name))
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return b, nil
}

// repeated is a repeatable string flag.
type repeated []string

func (s *repeated) String() string     { return fmt.Sprint(*s) }
func (s *repeated) Set(v string) error { *s = append(*s, v); return nil }
