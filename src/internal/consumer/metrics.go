package consumer

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
)

// Metrics are the consumer's Prometheus metrics.
type Metrics struct {
	Consumed     prometheus.Counter
	Written      prometheus.Counter
	Duplicates   prometheus.Counter
	DeadLettered *prometheus.CounterVec
	WriteErrors  prometheus.Counter
	Reconnects   prometheus.Counter
	BatchSize    prometheus.Histogram
	WriteSeconds prometheus.Histogram
	Connected    prometheus.Gauge
	Paused       prometheus.Gauge
	// Broker names the node (address) the consumer is connected to.
	Broker *amqpconn.NodeGauge
}

// Dead-letter reasons, the values of the "reason" label.
const (
	ReasonInvalid  = "invalid"
	ReasonRejected = "rejected_by_database"
)

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_consumer_consumed_total",
			Help: "Messages received from the workouts queue.",
		}),
		Written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_consumer_written_total",
			Help: "Workouts inserted into the database.",
		}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_consumer_duplicates_total",
			Help: "Workouts that were already stored (redeliveries); acknowledged as persisted.",
		}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_consumer_dead_lettered_total",
			Help: "Messages sent to the dead-letter queue, by reason.",
		}, []string{"reason"}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_consumer_write_errors_total",
			Help: "Failed batch writes (each is retried; consumption pauses meanwhile).",
		}),
		Reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_consumer_reconnects_total",
			Help: "Broker sessions started after the first one.",
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fitness_consumer_batch_size",
			Help:    "Messages per batch write.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fitness_consumer_write_duration_seconds",
			Help:    "Duration of successful batch writes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fitness_consumer_connected",
			Help: "1 while consuming from the broker.",
		}),
		Paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fitness_consumer_paused",
			Help: "1 while consumption is paused because the database cannot be written.",
		}),
	}
	m.Broker = amqpconn.NewNodeGauge(reg, "fitness_consumer_broker_connected",
		"1 for the broker node (address) the consumer is consuming from.")
	m.DeadLettered.WithLabelValues(ReasonInvalid)
	m.DeadLettered.WithLabelValues(ReasonRejected)
	if reg != nil {
		reg.MustRegister(m.Consumed, m.Written, m.Duplicates, m.DeadLettered, m.WriteErrors,
			m.Reconnects, m.BatchSize, m.WriteSeconds, m.Connected, m.Paused)
	}
	return m
}
