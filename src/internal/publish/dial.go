package publish

import (
	"context"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/amqpconn"
)

// dial opens a connection as amqpconn.Dial does (same TLS files, heartbeat,
// name and bounds), with the socket under a batchConn so that concurrent
// publishes leave in shared writes.
func dial(ctx context.Context, c amqpconn.Config) (*amqp.Connection, error) {
	tlsCfg, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	heartbeat := c.Heartbeat
	if heartbeat == 0 {
		heartbeat = 10 * time.Second
	}
	props := amqp.NewConnectionProperties()
	if c.ConnectionName != "" {
		props.SetClientConnectionName(c.ConnectionName)
	}
	cfg := amqp.Config{
		Heartbeat:       heartbeat,
		Locale:          "en_US",
		TLSClientConfig: tlsCfg,
		Properties:      props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshake must finish within the same bound; amqp091
			// clears the deadline once the connection is open.
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				conn.Close()
				return nil, err
			}
			return newBatchConn(conn), nil
		},
	}
	conn, err := amqp.DialConfig(c.URL, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial rabbitmq: %w", err)
	}
	return conn, nil
}
