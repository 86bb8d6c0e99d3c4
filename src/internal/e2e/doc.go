// Package e2e holds the fitness services' end-to-end tests and benchmarks:
// the web app, the publisher, the consumer and the store wired together as
// in production, against a real RabbitMQ (scripts/rabbitmq.sh) and the
// embedded MongoDB-compatible server (or MONGODB_URI), with a real headless
// Chromium for the browser test.
//
// Tests run one at a time: they share the package's broker and its queue.
//
//	go test ./src/internal/e2e/                                   # tests
//	go test -run '^$' -bench . -benchtime 1x ./src/internal/e2e/  # figures
package e2e
