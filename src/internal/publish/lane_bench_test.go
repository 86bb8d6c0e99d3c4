package publish

import (
	"context"
	"fmt"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// BenchmarkLane is the lane's own cost per message: 256 callers, a channel
// that the "broker" (one goroutine) acks in the batches it finds.
func BenchmarkLane(b *testing.B) {
	acks := make(chan *fakeConfirm, 4096)
	send := func(m amqp.Publishing) (confirmation, error) {
		c := &fakeConfirm{done: make(chan struct{})}
		acks <- c
		return c, nil
	}
	go func() {
		for c := range acks {
			c.acked = true
			close(c.done)
		}
	}()
	defer close(acks)
	l := newLane(send, func() bool { return false }, newReturnTracker(make(chan amqp.Return)), 1024)
	defer l.close()
	var wg sync.WaitGroup
	jobs := make(chan int, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := l.publish(context.Background(), nil, amqp.Publishing{MessageId: fmt.Sprint(i)}); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range b.N {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
