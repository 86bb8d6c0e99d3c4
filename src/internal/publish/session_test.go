package publish

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestReturnTracker(t *testing.T) {
	returns := make(chan amqp.Return)
	tr := newReturnTracker(returns)
	// As in amqp091-go, the hand-over of a return completes before the ack
	// that follows it is processed, so a take after it must see it.
	returns <- amqp.Return{MessageId: "a"}
	returns <- amqp.Return{MessageId: "a"}
	returns <- amqp.Return{MessageId: "b"}
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true}, {"b", true}, {"c", false}, {"a", true}, {"a", false}, {"b", false},
	}
	for i, tt := range tests {
		if i == 3 {
			// After the channel closed the record is still answered.
			close(returns)
			<-tr.exited
		}
		if got := tr.takeAll([]string{tt.id})[tt.id] > 0; got != tt.want {
			t.Errorf("take %d (%s) = %v, want %v", i, tt.id, got, tt.want)
		}
	}
	// One batch can hold the same id twice (a retry): each is one record.
	returns2 := make(chan amqp.Return)
	tr2 := newReturnTracker(returns2)
	returns2 <- amqp.Return{MessageId: "d"}
	if got := tr2.takeAll([]string{"d", "e", "d"}); got["d"] != 1 || got["e"] != 0 {
		t.Errorf("takeAll = %v, want d once", got)
	}
	close(returns2)
}
