// Package smoke proves the test servers are real: a message goes through
// RabbitMQ with publisher confirms and comes back, a document goes through the
// MongoDB-compatible server and comes back, and the broker survives a restart
// on the same port.
package smoke

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
	"github.com/homelab-gitops/homelab/src/internal/testenv/rabbitmqtest"
)

var (
	broker *rabbitmqtest.Broker
	db     *mongotest.Server
)

func TestMain(m *testing.M) {
	os.Exit(rabbitmqtest.Run(&broker, func() int { return mongotest.Main(m, &db) }))
}

func TestPublishConfirmedAndConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := channel(t, broker.URL())

	q, err := ch.QueueDeclare("smoke", false, true, false, false, amqp.Table{"x-queue-type": "classic"})
	if err != nil {
		t.Fatalf("declare queue: %v", err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatalf("confirm mode: %v", err)
	}
	conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q.Name, true, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent,
		ContentType:  "text/plain",
		MessageId:    "smoke-1",
		Body:         []byte("hello"),
	})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	acked, err := conf.WaitContext(ctx)
	if err != nil || !acked {
		t.Fatalf("broker did not confirm the message: acked=%v err=%v", acked, err)
	}

	msg, ok, err := ch.Get(q.Name, false)
	if err != nil || !ok {
		t.Fatalf("get: ok=%v err=%v", ok, err)
	}
	if string(msg.Body) != "hello" || msg.MessageId != "smoke-1" {
		t.Fatalf("got body %q id %q, want hello smoke-1", msg.Body, msg.MessageId)
	}
	if err := msg.Ack(false); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(db.URI()))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	coll := client.Database(db.Database(t)).Collection("smoke")

	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "doc-1"}, {Key: "reps", Value: 5}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "doc-1"}, {Key: "reps", Value: 6}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert with the same _id: got %v, want a duplicate-key error", err)
	}
	var got struct {
		ID   string `bson:"_id"`
		Reps int    `bson:"reps"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "doc-1"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.ID != "doc-1" || got.Reps != 5 {
		t.Fatalf("got %+v, want doc-1 with 5 reps", got)
	}
}

func TestBrokerRestartKeepsPortAndDurableQueues(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ch := channel(t, broker.URL())
	if _, err := ch.QueueDeclare("smoke.durable", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatalf("declare: %v", err)
	}
	port := broker.Port()
	if err := broker.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := amqp.Dial(broker.URL()); err == nil {
		t.Fatal("dial succeeded while the broker was stopped")
	}
	if err := broker.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if broker.Port() != port {
		t.Fatalf("port changed across restart: %d -> %d", port, broker.Port())
	}
	ch = channel(t, broker.URL())
	if _, err := ch.QueueDeclarePassive("smoke.durable", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatalf("durable queue gone after restart: %v", err)
	}
}

func TestEmbeddedServerOutage(t *testing.T) {
	if !db.Embedded() {
		t.Skip("MONGODB_URI points at an external server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(db.URI()).SetServerSelectionTimeout(500 * time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	coll := client.Database(db.Database(t)).Collection("outage")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatalf("insert before outage: %v", err)
	}
	if err := db.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 2}})
	if err == nil {
		t.Fatal("insert succeeded while the server was stopped")
	}
	if err := db.Start(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	n, err := coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatalf("count after restart: %v", err)
	}
	if n != 1 {
		t.Fatalf("got %d documents after restart, want 1 (data kept, failed insert absent)", n)
	}
}

func channel(t *testing.T, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			t.Errorf("close connection: %v", err)
		}
	})
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	return ch
}
