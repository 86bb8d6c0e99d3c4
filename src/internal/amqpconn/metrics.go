package amqpconn

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeGauge is the metric that says which broker node a service is
// connected to: 1 for that node's address, no series while disconnected.
type NodeGauge struct {
	vec *prometheus.GaugeVec
	mu  sync.Mutex
	cur string
}

// NewNodeGauge makes the gauge name, labelled by address (host:port), and
// registers it with reg when reg is not nil.
func NewNodeGauge(reg prometheus.Registerer, name, help string) *NodeGauge {
	g := &NodeGauge{vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"address"})}
	if reg != nil {
		reg.MustRegister(g.vec)
	}
	return g
}

// Set records a connection to addr.
func (g *NodeGauge) Set(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != "" {
		g.vec.DeleteLabelValues(g.cur)
	}
	g.cur = addr
	g.vec.WithLabelValues(addr).Set(1)
}

// Clear records that the connection is gone.
func (g *NodeGauge) Clear() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur != "" {
		g.vec.DeleteLabelValues(g.cur)
		g.cur = ""
	}
}

// Current is the address last Set, or "" when disconnected.
func (g *NodeGauge) Current() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cur
}
