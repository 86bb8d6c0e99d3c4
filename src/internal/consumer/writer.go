package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// maxReasonLength keeps the reason header well inside a frame.
const maxReasonLength = 1000

// deadLetterTimeout bounds the wait for the dead-letter republish confirm.
const deadLetterTimeout = 10 * time.Second

// writeLoop writes and acknowledges batches in order until batches is
// closed or a batch cannot be finished (channel lost, shutdown).
func (c *Consumer) writeLoop(ctx context.Context, s *session, batches <-chan *batch) error {
	for b := range batches {
		if err := c.process(ctx, s, b); err != nil {
			return err
		}
	}
	return nil
}

// process dead-letters a batch's invalid messages, writes the valid ones,
// and acknowledges the batch with one multiple ack.
func (c *Consumer) process(ctx context.Context, s *session, b *batch) error {
	nacked := map[uint64]bool{}
	deadLetter := func(it item, reason, label string) error {
		c.log.Warn("dead-lettering message", "message_id", it.d.MessageId, "delivery_tag", it.d.DeliveryTag,
			"redelivered", it.d.Redelivered, "reason", reason)
		if err := c.republishDead(ctx, s, it.d, reason); err != nil {
			// The broker's own dead-lettering still keeps the message (with
			// an x-death header); the reason is in this log line.
			c.log.Warn("dead-letter republish failed; rejecting to the queue's dead-letter exchange",
				"message_id", it.d.MessageId, "reason", reason, "error", err)
			if err := s.ch.Nack(it.d.DeliveryTag, false, false); err != nil {
				return fmt.Errorf("reject message %s: %w", it.d.MessageId, err)
			}
			nacked[it.d.DeliveryTag] = true
		}
		c.m.DeadLettered.WithLabelValues(label).Inc()
		return nil
	}

	valid := make([]workout.Workout, 0, len(b.items))
	index := make([]int, 0, len(b.items))
	for i, it := range b.items {
		if it.reason != "" {
			if err := deadLetter(it, it.reason, ReasonInvalid); err != nil {
				return err
			}
			continue
		}
		valid = append(valid, it.w)
		index = append(index, i)
	}
	if len(valid) > 0 {
		res, err := c.write(ctx, s, valid)
		if err != nil {
			return err
		}
		for k, rerr := range res.Rejected {
			if err := deadLetter(b.items[index[k]], rerr.Error(), ReasonRejected); err != nil {
				return err
			}
		}
		c.m.Written.Add(float64(res.Inserted))
		c.m.Duplicates.Add(float64(res.Duplicates))
	}
	if c.afterWrite != nil {
		c.afterWrite(len(b.items))
	}
	var top uint64
	for _, it := range b.items {
		if !nacked[it.d.DeliveryTag] && it.d.DeliveryTag > top {
			top = it.d.DeliveryTag
		}
	}
	if top == 0 {
		return nil
	}
	// Every delivery up to top is in this batch or an earlier one, and
	// earlier ones are acknowledged already: one ack covers the batch.
	if err := s.ch.Ack(top, true); err != nil {
		return fmt.Errorf("acknowledge up to delivery %d: %w", top, err)
	}
	return nil
}

// write inserts ws, retrying with backoff while the database fails. It
// holds the batch meanwhile: no ack, no nack, no requeue.
func (c *Consumer) write(ctx context.Context, s *session, ws []workout.Workout) (store.Result, error) {
	defer c.m.Paused.Set(0)
	var firstErr time.Time
	for attempt := 0; ; attempt++ {
		wctx, cancel := context.WithTimeout(ctx, c.cfg.WriteTimeout)
		start := time.Now()
		res, err := c.cfg.Store.InsertBatch(wctx, ws)
		cancel()
		if err == nil {
			c.m.WriteSeconds.Observe(time.Since(start).Seconds())
			c.m.BatchSize.Observe(float64(len(ws)))
			if attempt > 0 {
				c.log.Info("database writable again; resuming consumption", "paused_for", time.Since(firstErr).Round(time.Millisecond), "attempts", attempt+1)
			}
			return res, nil
		}
		c.m.WriteErrors.Inc()
		switch {
		case attempt == 0:
			firstErr = time.Now()
			c.m.Paused.Set(1)
			c.log.Error("database write failed; pausing consumption and retrying", "batch", len(ws), "error", err)
		case attempt%10 == 0:
			c.log.Error("database still failing", "batch", len(ws), "paused_for", time.Since(firstErr).Round(time.Second), "error", err)
		}
		if ctx.Err() != nil {
			return store.Result{}, fmt.Errorf("write batch: %w", ctx.Err())
		}
		if s.ch.IsClosed() {
			return store.Result{}, errors.New("channel closed while the database was failing; the batch will be redelivered")
		}
		if !c.cfg.Retry.Sleep(ctx, attempt) {
			return store.Result{}, fmt.Errorf("write batch: %w", ctx.Err())
		}
	}
}

// republishDead publishes a copy of d to the dead-letter exchange with the
// reason in its headers, and waits for the broker's confirm.
func (c *Consumer) republishDead(ctx context.Context, s *session, d amqp.Delivery, reason string) error {
	if len(reason) > maxReasonLength {
		reason = reason[:maxReasonLength]
	}
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[topology.HeaderReason] = reason
	headers[topology.HeaderRejectedAt] = c.cfg.Now().UTC()
	headers[topology.HeaderOriginalExchange] = d.Exchange
	headers[topology.HeaderOriginalRoutingKey] = d.RoutingKey
	ctx, cancel := context.WithTimeout(ctx, deadLetterTimeout)
	defer cancel()
	dc, err := s.dlx.PublishWithDeferredConfirmWithContext(ctx, topology.DeadLetterExchange, d.RoutingKey, false, false, amqp.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topology.DeadLetterExchange, err)
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("wait for the dead-letter confirm: %w", err)
	}
	if !acked {
		return errors.New("dead-letter publish nacked")
	}
	return nil
}
