package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"github.com/homelab-gitops/homelab/src/internal/mongodump"
	"github.com/homelab-gitops/homelab/src/internal/store"
)

func mongoDump(ctx context.Context, args []string, env envconf.Env, logger *slog.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("mongo-dump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	t.flags(fs, "mongodb")
	var dbs repeated
	fs.Var(&dbs, "db", "database to dump (repeatable; default: all but admin, config, local)")
	gzip := fs.Bool("gzip", true, "compress the files (.bson.gz, .metadata.json.gz, as mongodump --gzip)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if err := t.check(env); err != nil {
		return err
	}
	client, err := connect(env, "backup")
	if err != nil {
		return err
	}
	defer disconnect(client, logger)
	dir, err := t.dir()
	if err != nil {
		return err
	}
	start := time.Now()
	colls, err := mongodump.Dump(ctx, client, mongodump.DumpOptions{Dir: dir, Databases: dbs, Gzip: *gzip, Logger: logger})
	if err != nil {
		return err
	}
	var docs int64
	for _, c := range colls {
		docs += c.Documents
	}
	logger.Info("dump complete", "dir", dir, "collections", len(colls), "documents", docs, "seconds", time.Since(start).Seconds())
	return t.finish(ctx, dir, logger)
}

func mongoRestore(ctx context.Context, args []string, env envconf.Env, logger *slog.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("mongo-restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the dump: a directory holding <db>/<collection>.bson[.gz] files")
	mode := fs.String("mode", "drop", "drop: replace each collection by the dump; merge: insert the dumped documents missing, keep the others")
	var dbs repeated
	fs.Var(&dbs, "db", "database to restore (repeatable; default: every database of the dump)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *dir == "" {
		return usageError{errors.New("-dir is required")}
	}
	opts := mongodump.RestoreOptions{Dir: *dir, Databases: dbs, Logger: logger}
	switch *mode {
	case "drop":
		opts.Mode = mongodump.Drop
	case "merge":
		opts.Mode = mongodump.Merge
	default:
		return usageError{fmt.Errorf("-mode %q: want drop or merge", *mode)}
	}
	client, err := connect(env, "restore")
	if err != nil {
		return err
	}
	defer disconnect(client, logger)
	start := time.Now()
	colls, err := mongodump.Restore(ctx, client, opts)
	if err != nil {
		return err
	}
	var docs int64
	for _, c := range colls {
		docs += c.Documents
	}
	logger.Info("restore complete", "dir", *dir, "collections", len(colls), "documents", docs, "seconds", time.Since(start).Seconds())
	return nil
}

func connect(env envconf.Env, app string) (*mongo.Client, error) {
	s := env.Settings()
	cfg := store.ConfigFromEnv(s, app)
	if err := s.Err(); err != nil {
		return nil, usageError{err}
	}
	// A dump reads every document once: allow a slow secondary its time.
	cfg.ServerSelectionTimeout = 30 * time.Second
	return store.Connect(cfg)
}

func disconnect(client *mongo.Client, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Disconnect(ctx); err != nil {
		logger.Warn("disconnect from mongodb", "error", err.Error())
	}
}
