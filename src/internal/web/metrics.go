package web

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	published      *prometheus.CounterVec
	publishSeconds prometheus.Histogram
	reads          *prometheus.CounterVec
	authRejected   *prometheus.CounterVec
	csrfRejected   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, pub Publisher) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_web_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fitness_web_http_request_duration_seconds",
			Help:    "HTTP request duration by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_web_workouts_published_total",
			Help: "Workouts sent to the broker: confirmed (acked) or failed (answered 503).",
		}, []string{"result"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fitness_web_publish_confirm_seconds",
			Help:    "Time from publishing a workout to the broker's confirm (or failure).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5},
		}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_web_history_reads_total",
			Help: "History reads: fresh, stale (last-known view) or error.",
		}, []string{"result"}),
		authRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fitness_web_access_rejected_total",
			Help: "Requests refused by the Cloudflare Access check: missing or invalid token.",
		}, []string{"reason"}),
		csrfRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fitness_web_cross_origin_rejected_total",
			Help: "Unsafe cross-origin requests refused.",
		}),
	}
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fitness_web_publisher_ready",
		Help: "1 while the publisher is connected to the broker with the topology declared (what /readyz reports).",
	}, func() float64 {
		if pub.Ready() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.published, m.publishSeconds, m.reads, m.authRejected, m.csrfRejected, ready} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("web: register metric: %w", err)
		}
	}
	return m, nil
}
