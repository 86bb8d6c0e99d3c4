// Command backup takes and restores the homelab's backups: MongoDB dumps in
// mongodump's directory layout and RabbitMQ definitions, written to a backup
// volume, shipped to an S3-compatible bucket and pruned to their retention.
//
//	backup mongo-dump -root /backup -ship              # the CronJob: a new run, uploaded, pruned
//	backup mongo-dump -out ./dump                      # by hand
//	backup mongo-restore -dir ./dump/20261204T020000Z [-mode drop|merge] [-db fitness]
//	backup rabbitmq-definitions -root /backup -ship
//
// Settings come from the environment; each may name a file instead through
// the _FILE suffix (envconf): MONGODB_URI, MONGODB_TLS_CA_FILE,
// MONGODB_TLS_CERT_KEY_FILE; RABBITMQ_URL, RABBITMQ_USERNAME,
// RABBITMQ_PASSWORD, RABBITMQ_CA_FILE; S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID,
// S3_SECRET_ACCESS_KEY. Logs are JSON on stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	// Public CA roots, used only when the system has none: the image is
	// built on an empty base (docs/delivery.md).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

// usageError is a command-line mistake (exit status 2).
type usageError struct{ error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	err := run(ctx, os.Args[1:], envconf.Env(os.LookupEnv), logger, os.Stderr)
	stop()
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "backup:", err)
		os.Exit(2)
	default:
		logger.Error("backup failed", "error", err.Error())
		os.Exit(1)
	}
}

const usage = `usage: backup <command> [flags]

commands:
  mongo-dump            dump MongoDB databases (mongodump layout)
  mongo-restore         restore a dump into MongoDB
  rabbitmq-definitions  export RabbitMQ's definitions from the management API

"backup <command> -h" lists a command's flags.`

func run(ctx context.Context, args []string, env envconf.Env, logger *slog.Logger, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New(usage)}
	}
	rest := args[1:]
	switch args[0] {
	case "mongo-dump":
		return mongoDump(ctx, rest, env, logger, stderr)
	case "mongo-restore":
		return mongoRestore(ctx, rest, env, logger, stderr)
	case "rabbitmq-definitions":
		return rabbitmqDefinitions(ctx, rest, env, logger, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q\n%s", args[0], usage)}
}
