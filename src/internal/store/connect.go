package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/homelab-gitops/homelab/src/internal/envconf"
	"net"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Collection is the collection holding one document per workout.
const Collection = "workouts"

// MaxStaleness bounds how far behind the primary a secondary may be for the
// web app's reads (MongoDB's minimum is 90 s).
const MaxStaleness = 90 * time.Second

// Config says how to reach MongoDB.
type Config struct {
	// URI is a mongodb:// or mongodb+srv:// connection string.
	URI string
	// TLSCAFile is a PEM bundle that verifies the servers' certificates.
	TLSCAFile string
	// TLSCertKeyFile is a PEM file with the client certificate and its key
	// (MongoDB's tlsCertificateKeyFile), for x509 or mutual TLS.
	TLSCertKeyFile string
	// AppName shows in the server's logs.
	AppName string
	// ServerSelectionTimeout bounds how long an operation waits for a usable
	// server (default 5 s, so an outage surfaces quickly).
	ServerSelectionTimeout time.Duration
}

// ReadPreference is secondaryPreferred with MaxStaleness: reads go to a
// secondary that is at most 90 s behind, or to the primary.
func ReadPreference() *readpref.ReadPref {
	return readpref.SecondaryPreferred(readpref.WithMaxStaleness(MaxStaleness))
}

// WriteConcern is majority with journaling: an acknowledged write survives
// the loss of a minority of members and a restart.
func WriteConcern() *writeconcern.WriteConcern {
	journal := true
	return &writeconcern.WriteConcern{W: writeconcern.WCMajority, Journal: &journal}
}

// TLSConfig builds the client TLS configuration from the files, or nil when
// none is set (TLS may still be asked for in the URI).
func (c Config) TLSConfig() (*tls.Config, error) {
	if c.TLSCAFile == "" && c.TLSCertKeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read mongodb ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mongodb ca file %s holds no PEM certificate", c.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if c.TLSCertKeyFile != "" {
		pem, err := os.ReadFile(c.TLSCertKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read mongodb client certificate: %w", err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("load mongodb client certificate from %s: %w", c.TLSCertKeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// tlsDialer dials a server and makes the TLS session to it, verifying the
// server's certificate for the host it dialled.
type tlsDialer struct {
	config      *tls.Config
	caFile      string
	certKeyFile string
	net         net.Dialer
}

func (d *tlsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("mongodb tls: %w", err)
	}
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.config.Clone()
	cfg.ServerName = host
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, d.explain(err)
	}
	return &refusalConn{Conn: conn, certKeyFile: d.certKeyFile}, nil
}

// explain names the setting behind a failed handshake.
func (d *tlsDialer) explain(err error) error {
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("mongodb tls handshake: %w", err)
	}
	var herr x509.HostnameError
	if errors.As(verr.Err, &herr) {
		return fmt.Errorf("mongodb server certificate is not for the host in MONGODB_URI: %w", err)
	}
	if d.caFile == "" {
		return fmt.Errorf("mongodb server certificate is not trusted by the system roots (set MONGODB_TLS_CA_FILE): %w", err)
	}
	return fmt.Errorf("mongodb server certificate is not trusted by the ca file %s (MONGODB_TLS_CA_FILE): %w", d.caFile, err)
}

// refusalConn names the client certificate setting when the server ends the
// session with a TLS alert after the handshake, as a TLS 1.3 server does when
// it refuses the client's certificate (missing, expired, unknown CA).
type refusalConn struct {
	*tls.Conn
	certKeyFile string
}

func (c *refusalConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var op *net.OpError
	if err != nil && errors.As(err, &op) && op.Op == "remote error" {
		if c.certKeyFile == "" {
			return n, fmt.Errorf("mongodb server refused the connection; it may require a client certificate (MONGODB_TLS_CERT_KEY_FILE): %w", err)
		}
		return n, fmt.Errorf("mongodb server refused the client certificate %s (MONGODB_TLS_CERT_KEY_FILE): %w", c.certKeyFile, err)
	}
	return n, err
}

// Connect creates a client with the project's read preference and write
// concern. It does not wait for a server: the first operation does, so a
// service starts while the database is down.
func Connect(c Config) (*mongo.Client, error) {
	if c.URI == "" {
		return nil, fmt.Errorf("mongodb uri is empty")
	}
	tlsCfg, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	sst := c.ServerSelectionTimeout
	if sst == 0 {
		sst = 5 * time.Second
	}
	opts := options.Client().
		ApplyURI(c.URI).
		SetReadPreference(ReadPreference()).
		SetWriteConcern(WriteConcern()).
		SetServerSelectionTimeout(sst).
		SetConnectTimeout(5 * time.Second)
	if c.AppName != "" {
		opts.SetAppName(c.AppName)
	}
	if tlsCfg != nil {
		// The TLS session is made by this package's dialer, not the
		// driver, so that a refused certificate is reported naming the
		// file (the driver keeps only the error's text).
		opts.TLSConfig = nil
		opts.SetDialer(&tlsDialer{config: tlsCfg, caFile: c.TLSCAFile, certKeyFile: c.TLSCertKeyFile})
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	return client, nil
}

// EnsureIndexes creates the indexes the history queries use, those that do
// not exist yet. Asking only for the missing ones keeps it idempotent on
// every server: the embedded FerretDB drops the connection when
// createIndexes names an index that already exists.
func EnsureIndexes(ctx context.Context, db *mongo.Database) error {
	wanted := []struct {
		name string
		keys bson.D
	}{
		{"user_performed", bson.D{{Key: "user_id", Value: 1}, {Key: "performed_at", Value: -1}}},
		{"user_exercise_performed", bson.D{{Key: "user_id", Value: 1}, {Key: "exercise", Value: 1}, {Key: "performed_at", Value: -1}}},
	}
	indexes := db.Collection(Collection).Indexes()
	specs, err := indexes.ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes on %s: %w", Collection, err)
	}
	have := make(map[string]bool, len(specs))
	for _, s := range specs {
		have[s.Name] = true
	}
	var missing []mongo.IndexModel
	for _, w := range wanted {
		if !have[w.name] {
			missing = append(missing, mongo.IndexModel{Keys: w.keys, Options: options.Index().SetName(w.name)})
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := indexes.CreateMany(ctx, missing); err != nil {
		return fmt.Errorf("create indexes on %s: %w", Collection, err)
	}
	return nil
}

// ConfigFromEnv reads the database settings both services share:
// MONGODB_URI (required), MONGODB_TLS_CA_FILE and MONGODB_TLS_CERT_KEY_FILE.
func ConfigFromEnv(s *envconf.Settings, appName string) Config {
	c := Config{
		URI:            s.String("MONGODB_URI", ""),
		TLSCAFile:      s.String("MONGODB_TLS_CA_FILE", ""),
		TLSCertKeyFile: s.String("MONGODB_TLS_CERT_KEY_FILE", ""),
		AppName:        appName,
	}
	if c.URI == "" {
		s.Fail(errors.New("MONGODB_URI (or MONGODB_URI_FILE) is required"))
	}
	return c
}
