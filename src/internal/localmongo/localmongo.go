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
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: s.addr},
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

// URI is the server's connection string.
func (s *Server) URI() string { return "mongodb://" + s.addr + "/" }

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
