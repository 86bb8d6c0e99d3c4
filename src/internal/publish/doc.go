// Package publish sends logged workouts to RabbitMQ and reports success only
// after the broker confirmed them.
//
// A Publisher owns one connection and Config.Channels channels in confirm
// mode (one by default). It connects in the background (with backoff and
// jitter; to one of a cluster's nodes, tried in random order, when
// Config.Dial lists several), declares the messaging topology (package topology) on every
// (re)connection, and keeps a window of unconfirmed messages that
// concurrent callers share, so that many requests in flight are confirmed
// together (amqp091-go deferred confirmations) instead of one round trip
// each. Each channel has one writer goroutine that publishes the queued
// messages back to back (callers never contend for the channel), and the
// socket batches writes: what is published during one write(2) leaves in
// the next, so the broker reads and confirms many messages at once. A
// message is a success only when its own ack arrives.
//
// The API the web app codes against:
//
//	p := publish.New(publish.Config{
//		Dial:   amqpconn.Config{URL: "amqp://guest:guest@rabbitmq:5672/"},
//		Logger: logger,
//	})
//	defer p.Close(shutdownCtx) // waits for outstanding confirms
//
//	// w is a validated workout.Workout; the web app bounds each request's
//	// wait with PublishWithin (a reused timer, no context per message).
//	err := p.PublishWithin(ctx, w, 5*time.Second)
//	switch {
//	case err == nil:
//		// the broker acked: answer 202 with w.ID
//	case errors.Is(err, publish.ErrUnavailable), // no connection, lost before the confirm, ctx or timeout expired
//		errors.Is(err, publish.ErrReturned), // unroutable (mandatory)
//		errors.Is(err, publish.ErrNacked): // the broker refused it
//		// answer 503 with Retry-After
//	}
//
//	p.Ready() // true while connected with the topology declared: use it for /readyz
//
// Every message is persistent, mandatory, content type application/json,
// with the workout id as message id, published to exchange
// topology.Exchange with routing key topology.RoutingKey. Publish never
// returns nil for a message the broker did not ack; it may return an error
// for a message that the broker did store (the connection was lost before
// the ack arrived), so callers retry with the same workout id and the
// consumer's idempotent write absorbs the duplicate.
package publish
