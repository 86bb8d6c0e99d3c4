// Package localmongo runs an embedded MongoDB-wire-compatible server
// (FerretDB with its SQLite backend) inside the current process, for tests and
// the local stack. It has no replica sets, write concerns or transactions:
// code requests them anyway for real MongoDB, and MONGODB_URI points
// everything at a real deployment.
package localmongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is one embedded FerretDB listening on a loopback port.
type Server struct {
	dir  string
	addr string
	tls  *TLS
	log  *slog.Logger

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// Start runs a server whose SQLite files live in dir, on a free loopback
// port. A nil logger logs FerretDB's errors to stderr only.
func Start(ctx context.Context, dir string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	s := &Server{dir: dir, addr: "127.0.0.1:0", log: log}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// TLS makes the server listen with TLS only.
type TLS struct {
	// CertFile and KeyFile are the server's certificate and key (PEM).
	CertFile string
	KeyFile  string
	// CAFile, when set, verifies client certificates, and FerretDB then
	// requires one from every client (mutual TLS).
	CAFile string
}

// StartTLS is Start for a server that accepts TLS connections only.
func StartTLS(ctx context.Context, dir string, log *slog.Logger, tls TLS) (*Server, error) {
	if tls.CertFile == "" || tls.KeyFile == "" {
		return nil, errors.New("start ferretdb: tls needs a certificate and a key file")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	s := &Server{dir: dir, addr: "127.0.0.1:0", tls: &tls, log: log}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Start starts the server again after Stop, on the same port and with the
// same data, as a database coming back after an outage would.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return errors.New("start ferretdb: already running")
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("start ferretdb: %w", err)
	}
	// The SQLite URL must name a directory and end with a slash.
	dirURL := "file:" + filepath.Clean(s.dir) + "/"
	listener := ferretdb.ListenerConfig{TCP: s.addr}
	if s.tls != nil {
		listener = ferretdb.ListenerConfig{
			TLS:         s.addr,
			TLSCertFile: s.tls.CertFile,
			TLSKeyFile:  s.tls.KeyFile,
			TLSCAFile:   s.tls.CAFile,
		}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Handler:   "sqlite",
		SQLiteURL: dirURL,
		Logger:    s.log,
	})
	if err != nil {
		return fmt.Errorf("start ferretdb in %s: %w", s.dir, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- f.Run(runCtx) }()
	uri := f.MongoDBURI() // blocks until the listener is up
	host, err := hostOf(uri)
	if err != nil {
		cancel()
		<-done
		return fmt.Errorf("start ferretdb: %w", err)
	}
	s.addr, s.cancel, s.done = host, cancel, done
	return nil
}

// Stop closes the listener and every client connection, as an outage would.
// Data stays in the directory.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	err := <-s.done
	s.cancel, s.done = nil, nil
	if err != nil {
		return fmt.Errorf("stop ferretdb: %w", err)
	}
	return nil
}

// URI is the server's connection string; it asks for TLS (tls=true) when
// the server listens with TLS.
func (s *Server) URI() string {
	if s.tls != nil {
		return "mongodb://" + s.addr + "/?tls=true"
	}
	return "mongodb://" + s.addr + "/"
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

func hostOf(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "mongodb" {
		return "", fmt.Errorf("unexpected uri %q", uri)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", fmt.Errorf("unexpected uri %q: %w", uri, err)
	}
	return u.Host, nil
}
