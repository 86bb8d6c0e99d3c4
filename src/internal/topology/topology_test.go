package topology

import (
	"errors"
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

type recorder struct {
	calls  []string
	failAt string
}

func (r *recorder) ExchangeDeclare(name, kind string, durable, autoDelete, internal, noWait bool, args amqp.Table) error {
	r.calls = append(r.calls, fmt.Sprintf("exchange %s %s durable=%v", name, kind, durable))
	return r.fail("exchange " + name)
}

func (r *recorder) QueueDeclare(name string, durable, autoDelete, exclusive, noWait bool, args amqp.Table) (amqp.Queue, error) {
	r.calls = append(r.calls, fmt.Sprintf("queue %s durable=%v type=%v replicas=%v dlx=%v limit=%v", name, durable, args[amqp.QueueTypeArg], args["x-quorum-initial-group-size"], args["x-dead-letter-exchange"], args["x-delivery-limit"]))
	return amqp.Queue{Name: name}, r.fail("queue " + name)
}

func (r *recorder) QueueBind(name, key, exchange string, noWait bool, args amqp.Table) error {
	r.calls = append(r.calls, fmt.Sprintf("bind %s %q %s", name, key, exchange))
	return r.fail("bind " + name)
}

func (r *recorder) fail(what string) error {
	if what == r.failAt {
		return errors.New("PRECONDITION_FAILED")
	}
	return nil
}

func TestDeclare(t *testing.T) {
	r := &recorder{}
	if err := Declare(r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"exchange workouts topic durable=true",
		"exchange workouts.dlx fanout durable=true",
		"queue workouts.dead durable=true type=quorum replicas=3 dlx=<nil> limit=<nil>",
		`bind workouts.dead "" workouts.dlx`,
		"queue workouts.log durable=true type=quorum replicas=3 dlx=workouts.dlx limit=20",
		`bind workouts.log "workout.logged" workouts`,
	}
	if fmt.Sprint(r.calls) != fmt.Sprint(want) {
		t.Errorf("calls:\n%v\nwant:\n%v", r.calls, want)
	}
}

func TestDeclareNamesWhatFailed(t *testing.T) {
	r := &recorder{failAt: "queue workouts.log"}
	err := Declare(r)
	if err == nil || err.Error() != "declare queue workouts.log: PRECONDITION_FAILED" {
		t.Errorf("Declare = %v", err)
	}
}

func TestQueueArgsAreStable(t *testing.T) {
	// The broker refuses a redeclaration with different arguments: both
	// services must send exactly these.
	a, b := QueueArgs(), QueueArgs()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("QueueArgs differs between calls")
	}
	if a["x-dead-letter-strategy"] != "at-least-once" || a[amqp.QueueOverflowArg] != amqp.QueueOverflowRejectPublish {
		t.Errorf("dead-lettering is not at-least-once: %v", a)
	}
}
