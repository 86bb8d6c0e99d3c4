// Package mongotest gives a test package a MongoDB-compatible server: the
// deployment named by MONGODB_URI when it is set, otherwise an embedded
// FerretDB (SQLite) in a temporary directory on a free loopback port.
//
//	var db *mongotest.Server
//
//	func TestMain(m *testing.M) { os.Exit(mongotest.Main(m, &db)) }
//
// Tests use db.URI() and a database name of their own (db.Database(t)).
//
// StartTLS always starts an embedded server, listening with TLS only and, with
// a CA file, requiring client certificates (certificates from tlstest).
package mongotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/homelab-gitops/homelab/src/internal/localmongo"
)

// Server is the package's database server.
type Server struct {
	uri      string
	embedded *localmongo.Server
}

// ErrNotEmbedded is returned by Stop and Start against an external server:
// a test cannot take a real deployment down.
var ErrNotEmbedded = errors.New("mongotest: MONGODB_URI points at an external server; it cannot be stopped")

// Start returns the external server from MONGODB_URI, or starts an embedded one.
func Start(ctx context.Context) (*Server, func(), error) {
	if uri := os.Getenv("MONGODB_URI"); uri != "" {
		return &Server{uri: uri}, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "mongotest-")
	if err != nil {
		return nil, nil, fmt.Errorf("mongotest: %w", err)
	}
	s, err := localmongo.Start(ctx, dir, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return &Server{uri: s.URI(), embedded: s}, stopFunc(s, dir), nil
}

// TLS names the server's certificate files; see localmongo.TLS.
type TLS = localmongo.TLS

// StartTLS starts an embedded server that accepts TLS connections only, even
// when MONGODB_URI is set: its URI carries tls=true.
func StartTLS(ctx context.Context, tls TLS) (*Server, func(), error) {
	dir, err := os.MkdirTemp("", "mongotest-")
	if err != nil {
		return nil, nil, fmt.Errorf("mongotest: %w", err)
	}
	s, err := localmongo.StartTLS(ctx, dir, nil, tls)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return &Server{uri: s.URI(), embedded: s}, stopFunc(s, dir), nil
}

func stopFunc(s *localmongo.Server, dir string) func() {
	return func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "mongotest:", err)
		}
		os.RemoveAll(dir)
	}
}

// Run starts the server, stores it in *s, runs next (the package's tests, or another helper's Run) and stops it.
func Run(s **Server, next func() int) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	server, stop, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mongotest:", err)
		return 1
	}
	defer stop()
	*s = server
	return next()
}

// Main is Run for a TestMain that needs only this server.
func Main(m *testing.M, s **Server) int { return Run(s, m.Run) }

// URI is the connection string.
func (s *Server) URI() string { return s.uri }

// Embedded reports whether the server runs in this process (FerretDB).
func (s *Server) Embedded() bool { return s.embedded != nil }

// Stop takes the embedded server down (listener and connections closed).
func (s *Server) Stop() error {
	if s.embedded == nil {
		return ErrNotEmbedded
	}
	return s.embedded.Stop()
}

// Start brings the embedded server back on the same address with the same data.
func (s *Server) Start(ctx context.Context) error {
	if s.embedded == nil {
		return ErrNotEmbedded
	}
	return s.embedded.Start(ctx)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// TestDatabase is a fresh database of client for t (named by Database),
// dropped when t ends, when client is also disconnected.
func (s *Server) TestDatabase(t testing.TB, client *mongo.Client) *mongo.Database {
	t.Helper()
	db := client.Database(s.Database(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Logf("drop %s: %v", db.Name(), err)
		}
		if err := client.Disconnect(ctx); err != nil {
			t.Errorf("disconnect: %v", err)
		}
	})
	return db
}

// Database returns a database name unique to the test, so tests sharing the
// server never see each other's documents.
func (s *Server) Database(t testing.TB) string {
	name := unsafeName.ReplaceAllString(t.Name(), "_")
	name = fmt.Sprintf("t_%s_%d", strings.ToLower(name), time.Now().UnixNano()%1e9)
	if len(name) > 60 {
		name = name[:60]
	}
	return name
}
