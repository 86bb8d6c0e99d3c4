// Package topology declares the RabbitMQ exchanges and queues that carry
// logged workouts. The web app and the consumer both declare it, on every
// (re)connection, before they publish or consume; declaring is idempotent.
//
//	exchange workouts (topic, durable)
//	  --workout.logged--> queue workouts.log (quorum, 3 replicas, delivery
//	                      limit, dead-letter exchange workouts.dlx, at-least-once)
//	exchange workouts.dlx (fanout, durable)
//	  --> queue workouts.dead (quorum, 3 replicas)
package topology

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Names shared by the publisher and the consumer.
const (
	Exchange           = "workouts"
	Queue              = "workouts.log"
	RoutingKey         = "workout.logged"
	DeadLetterExchange = "workouts.dlx"
	DeadLetterQueue    = "workouts.dead"
	// DeliveryLimit is how many times a message may be returned to the queue
	// (consumer crash, nack with requeue) before the broker dead-letters it.
	// The consumer never requeues on a database outage, so only a message
	// that keeps killing consumers reaches it.
	DeliveryLimit = 20
	// Replicas is the quorum queues' initial group size: a message is
	// confirmed once a majority (2 of 3) has it on disk, so one node may
	// fail or be cut off without losing or stopping anything. A broker
	// with fewer nodes gives each queue as many replicas as it has nodes.
	Replicas = 3
)

// Headers set on a message the consumer dead-letters itself.
const (
	// HeaderReason says why the message was rejected, for a person.
	HeaderReason = "x-rejected-reason"
	// HeaderRejectedAt is the time of the rejection (AMQP timestamp).
	HeaderRejectedAt = "x-rejected-at"
	// HeaderOriginalExchange and HeaderOriginalRoutingKey say where it was
	// first published, so that it can be replayed after a fix.
	HeaderOriginalExchange   = "x-original-exchange"
	HeaderOriginalRoutingKey = "x-original-routing-key"
)

// Declarer is the part of *amqp.Channel that Declare uses.
type Declarer interface {
	ExchangeDeclare(name, kind string, durable, autoDelete, internal, noWait bool, args amqp.Table) error
	QueueDeclare(name string, durable, autoDelete, exclusive, noWait bool, args amqp.Table) (amqp.Queue, error)
	QueueBind(name, key, exchange string, noWait bool, args amqp.Table) error
}

// QueueArgs are the arguments of the work queue. They must be identical
// wherever the queue is declared, or the broker refuses the declaration.
func QueueArgs() amqp.Table {
	return amqp.Table{
		amqp.QueueTypeArg:             amqp.QueueTypeQuorum,
		"x-quorum-initial-group-size": int32(Replicas),
		"x-delivery-limit":            int32(DeliveryLimit),
		"x-dead-letter-exchange":      DeadLetterExchange,
		"x-dead-letter-strategy":      "at-least-once",
		amqp.QueueOverflowArg:         amqp.QueueOverflowRejectPublish,
	}
}

// DeadLetterQueueArgs are the arguments of the dead-letter queue.
func DeadLetterQueueArgs() amqp.Table {
	return amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum, "x-quorum-initial-group-size": int32(Replicas)}
}

// Declare declares the whole topology on ch. A failure closes the channel
// (AMQP semantics), so callers open a new one before retrying.
func Declare(ch Declarer) error {
	if err := ch.ExchangeDeclare(Exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", Exchange, err)
	}
	if err := ch.ExchangeDeclare(DeadLetterExchange, amqp.ExchangeFanout, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", DeadLetterExchange, err)
	}
	if _, err := ch.QueueDeclare(DeadLetterQueue, true, false, false, false, DeadLetterQueueArgs()); err != nil {
		return fmt.Errorf("declare queue %s: %w", DeadLetterQueue, err)
	}
	if err := ch.QueueBind(DeadLetterQueue, "", DeadLetterExchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s to %s: %w", DeadLetterQueue, DeadLetterExchange, err)
	}
	if _, err := ch.QueueDeclare(Queue, true, false, false, false, QueueArgs()); err != nil {
		return fmt.Errorf("declare queue %s: %w", Queue, err)
	}
	if err := ch.QueueBind(Queue, RoutingKey, Exchange, false, nil); err != nil {
		return fmt.Errorf("bind queue %s to %s: %w", Queue, Exchange, err)
	}
	return nil
}
