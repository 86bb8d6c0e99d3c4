// Package amqpconn dials RabbitMQ for the web app and the consumer, with TLS
// (amqps, CA and client certificate files) by configuration.
package amqpconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Config says how to reach the broker.
type Config struct {
	// URL is amqp:// or amqps://user:password@host:port/vhost.
	URL string
	// CAFile is a PEM bundle that verifies the broker's certificate (amqps).
	// Empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM) presented
	// to the broker; both or neither.
	CertFile string
	KeyFile  string
	// ConnectionName shows in the management UI.
	ConnectionName string
	// Heartbeat defaults to 10 s.
	Heartbeat time.Duration
}

// TLSConfig builds the client TLS configuration from the files, or returns
// nil when none is set and the URL is not amqps.
func (c Config) TLSConfig() (*tls.Config, error) {
	uri, err := amqp.ParseURI(c.URL)
	if err != nil {
		return nil, fmt.Errorf("parse amqp url: %w", err)
	}
	if uri.Scheme != "amqps" && c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if uri.Scheme != "amqps" {
		return nil, errors.New("amqp tls files are set but the url scheme is not amqps")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: uri.Host}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read amqp ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("amqp ca file %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("amqp client certificate and key files must be set together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load amqp client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Dial opens a connection, giving up when ctx ends.
func Dial(ctx context.Context, c Config) (*amqp.Connection, error) {
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
			return conn, nil
		},
	}
	conn, err := amqp.DialConfig(c.URL, cfg)
	if err != nil {
		return nil, fmt.Errorf("dial rabbitmq: %w", err)
	}
	return conn, nil
}
