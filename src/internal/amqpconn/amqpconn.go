// Package amqpconn dials RabbitMQ for the web app and the consumer, with TLS
// (amqps, CA and client certificate files) by configuration. Given the
// addresses of several cluster nodes it tries them in random order, so
// that clients spread over the nodes and fail over to whichever is up.
package amqpconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/homelab-gitops/homelab/src/internal/envconf"
)

// Config says how to reach the broker.
type Config struct {
	// URL is amqp:// or amqps://user:password@host:port/vhost.
	URL string
	// URLs are the addresses of a cluster's nodes, tried in random order
	// on every Dial; when set, URL is not used. All share one scheme.
	URLs []string
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
	// WrapConn, when set, wraps the connection AMQP frames are read from
	// and written to, above TLS (the publisher batches its writes there).
	// The wrapper should forward ConnectionState for amqp091's
	// Connection.ConnectionState to report TLS details.
	WrapConn func(net.Conn) net.Conn
}

// Addresses are the URLs Dial tries: URLs, or URL alone.
func (c Config) Addresses() []string {
	if len(c.URLs) > 0 {
		return c.URLs
	}
	return []string{c.URL}
}

// TLSConfig builds the client TLS configuration from the files, or returns
// nil when none is set and the URLs are not amqps. Its ServerName is the
// first address's host; Dial sets each address's own.
func (c Config) TLSConfig() (*tls.Config, error) {
	addrs := c.Addresses()
	var first amqp.URI
	for i, a := range addrs {
		uri, err := amqp.ParseURI(a)
		if err != nil {
			return nil, fmt.Errorf("parse amqp url %d of %d: %w", i+1, len(addrs), err)
		}
		if i == 0 {
			first = uri
		} else if uri.Scheme != first.Scheme {
			return nil, fmt.Errorf("amqp url %d of %d is %s but the first is %s; use one scheme", i+1, len(addrs), uri.Scheme, first.Scheme)
		}
	}
	if first.Scheme != "amqps" && c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if first.Scheme != "amqps" {
		return nil, errors.New("amqp tls files are set but the url scheme is not amqps")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: first.Host}
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

// Dial opens a connection to one of the addresses, tried in random order,
// giving up when ctx ends or every one failed. The connection's RemoteAddr
// says which node it reached.
//
// For amqps the TLS session is set up here rather than by amqp091, so that a
// broker refusing the client certificate after the handshake (TLS 1.3 checks
// it then: expired, unknown CA) is reported with the broker's TLS alert, not
// as a bare "connection is not open".
func Dial(ctx context.Context, c Config) (*amqp.Connection, error) {
	tlsCfg, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	addrs := c.Addresses()
	if len(addrs) == 1 {
		return c.dial(ctx, addrs[0], tlsCfg, 5*time.Second)
	}
	// Shorter than for a single broker: a node that does not answer (cut
	// off by a partition) must not hold up failing over to the next.
	const perNode = 2 * time.Second
	var errs []error
	for _, i := range rand.Perm(len(addrs)) {
		conn, err := c.dial(ctx, addrs[i], tlsCfg, perNode)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", redact(addrs[i]), err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no broker of %d answered: %w", len(addrs), errors.Join(errs...))
}

func (c Config) dial(ctx context.Context, addr string, tlsCfg *tls.Config, timeout time.Duration) (*amqp.Connection, error) {
	dialURL := addr
	if tlsCfg != nil {
		var err error
		if dialURL, err = overTLS(addr); err != nil {
			return nil, err
		}
		uri, err := amqp.ParseURI(addr)
		if err != nil {
			return nil, fmt.Errorf("parse amqp url: %w", err)
		}
		tlsCfg = tlsCfg.Clone()
		tlsCfg.ServerName = uri.Host
	}
	heartbeat := c.Heartbeat
	if heartbeat == 0 {
		heartbeat = 10 * time.Second
	}
	props := amqp.NewConnectionProperties()
	if c.ConnectionName != "" {
		props.SetClientConnectionName(c.ConnectionName)
	}
	var session *tlsSession
	cfg := amqp.Config{
		Heartbeat:  heartbeat,
		Locale:     "en_US",
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// The handshakes must finish within the same bound; amqp091
			// clears the deadline once the connection is open.
			if err := conn.SetDeadline(time.Now().Add(2 * timeout)); err != nil {
				conn.Close()
				return nil, err
			}
			if tlsCfg == nil {
				return c.wrap(conn), nil
			}
			tc := tls.Client(conn, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, c.explainHandshake(err)
			}
			session = &tlsSession{Conn: tc}
			return c.wrap(session), nil
		},
	}
	conn, err := amqp.DialConfig(dialURL, cfg)
	if err != nil {
		if session != nil {
			if readErr := session.refusal(); readErr != nil {
				// The alert is the cause; amqp091's error only says the
				// connection closed during the AMQP handshake.
				if c.CertFile == "" {
					return nil, fmt.Errorf("dial rabbitmq: broker ended the tls session; it may require a client certificate (AMQP_CERT_FILE, AMQP_KEY_FILE): %w", readErr)
				}
				return nil, fmt.Errorf("dial rabbitmq: broker refused the client certificate %s (AMQP_CERT_FILE): %w", c.CertFile, readErr)
			}
		}
		return nil, fmt.Errorf("dial rabbitmq: %w", err)
	}
	return conn, nil
}

// redact drops the password from an AMQP URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

func (c Config) wrap(conn net.Conn) net.Conn {
	if c.WrapConn == nil {
		return conn
	}
	return c.WrapConn(conn)
}

// explainHandshake names the setting behind a server certificate that did
// not verify.
func (c Config) explainHandshake(err error) error {
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("tls handshake: %w", err)
	}
	var herr x509.HostnameError
	switch {
	case errors.As(verr.Err, &herr):
		return fmt.Errorf("broker certificate is not for the host in AMQP_URL: %w", err)
	case c.CAFile == "":
		return fmt.Errorf("broker certificate is not trusted by the system roots (set AMQP_CA_FILE): %w", err)
	}
	return fmt.Errorf("broker certificate is not trusted by the ca file %s (AMQP_CA_FILE): %w", c.CAFile, err)
}

// overTLS turns an amqps URL into the amqp URL amqp091 dials over the TLS
// session Dial makes itself, keeping amqps's default port 5671.
func overTLS(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parse amqp url: %w", err)
	}
	u.Scheme = "amqp"
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "5671")
	}
	return u.String(), nil
}

// tlsSession is the client's TLS connection; it keeps the first TLS alert
// the broker sent, which says why it refused the client.
type tlsSession struct {
	*tls.Conn

	mu  sync.Mutex
	err error
}

func (s *tlsSession) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	var op *net.OpError
	if err != nil && errors.As(err, &op) && op.Op == "remote error" {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// refusal returns the broker's alert. When none was read yet (the
// AMQP header write may fail first, on a socket the broker already reset),
// it reads once more, briefly, for the alert the broker sent.
func (s *tlsSession) refusal() error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if s.Conn.SetReadDeadline(time.Now().Add(time.Second)) != nil {
		return nil
	}
	var buf [64]byte
	for {
		if _, err := s.Read(buf[:]); err != nil {
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// ConfigFromEnv reads the broker settings both services share: AMQP_URL
// (the broker is found by the service name rabbitmq by default) or
// AMQP_URLS (the nodes of a cluster, comma separated), AMQP_CA_FILE,
// AMQP_CERT_FILE, AMQP_KEY_FILE and AMQP_HEARTBEAT.
func ConfigFromEnv(s *envconf.Settings, connectionName string) Config {
	var urls []string
	if list := s.String("AMQP_URLS", ""); list != "" {
		for _, u := range strings.Split(list, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
		if len(urls) == 0 {
			s.Fail(errors.New("AMQP_URLS holds no url"))
		}
		if s.String("AMQP_URL", "") != "" {
			s.Fail(errors.New("AMQP_URL and AMQP_URLS are both set; set one"))
		}
	}
	return Config{
		URLs:           urls,
		Heartbeat:      s.Duration("AMQP_HEARTBEAT", 0),
		URL:            s.String("AMQP_URL", "amqp://guest:guest@rabbitmq:5672/"),
		CAFile:         s.String("AMQP_CA_FILE", ""),
		CertFile:       s.String("AMQP_CERT_FILE", ""),
		KeyFile:        s.String("AMQP_KEY_FILE", ""),
		ConnectionName: connectionName,
	}
}
