// Package gitserver serves bare Git repositories over the smart HTTP
// protocol on loopback, through git's own http-backend behind net/http/cgi,
// so that source-controller clones and the test pushes exactly as they would
// against a real Git host. It also runs git commands with an isolated
// configuration.
package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Server serves the bare repositories below Root at URL()/<name>.git.
type Server struct {
	// Root holds the bare repositories.
	Root string

	srv *http.Server
	ln  net.Listener
}

// Start creates Root if needed and serves it on a free loopback port until
// Close or ctx ends.
func Start(ctx context.Context, root string, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create git root: %w", err)
	}
	execPath, err := Git(ctx, "", "--exec-path")
	if err != nil {
		return nil, err
	}
	backend := filepath.Join(strings.TrimSpace(execPath), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("find git-http-backend: %w", err)
	}
	handler := &cgi.Handler{
		Path: backend,
		Env: append(isolatedEnv(),
			"GIT_PROJECT_ROOT="+root,
			"GIT_HTTP_EXPORT_ALL=1",
		),
		Stderr: &logWriter{log: log},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		Root: root,
		ln:   ln,
		srv: &http.Server{
			Handler:           withContentLength(handler, maxBody),
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		},
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("git server stopped", "err", err)
		}
	}()
	return s, nil
}

// maxBody bounds a request body that is buffered (a push of the test's
// repositories is a few megabytes).
const maxBody = 512 << 20

// withContentLength buffers chunked request bodies, which git sends for
// pushes and fetches larger than its http.postBuffer, because CGI needs a
// CONTENT_LENGTH (net/http/cgi refuses chunked bodies with 400).
func withContentLength(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 || r.ContentLength < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if int64(len(body)) > limit {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.TransferEncoding = nil
		}
		next.ServeHTTP(w, r)
	})
}

// URL is the base URL of the server, without a trailing slash.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// RepoURL is the clone URL of the repository name.
func (s *Server) RepoURL(name string) string { return s.URL() + "/" + name + ".git" }

// CreateRepo makes an empty bare repository that accepts pushes over HTTP
// and returns its clone URL.
func (s *Server) CreateRepo(ctx context.Context, name, branch string) (string, error) {
	dir := filepath.Join(s.Root, name+".git")
	if _, err := Git(ctx, "", "init", "--quiet", "--bare", "--initial-branch="+branch, dir); err != nil {
		return "", err
	}
	// Anonymous pushes are refused by http-backend unless enabled.
	if _, err := Git(ctx, dir, "config", "http.receivepack", "true"); err != nil {
		return "", err
	}
	return s.RepoURL(name), nil
}

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Git runs git with args in dir (empty: the current directory), with no
// user or system configuration, and returns its standard output.
func Git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = isolatedEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func isolatedEnv() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=e2e",
		"GIT_AUTHOR_EMAIL=e2e@homelab.invalid",
		"GIT_COMMITTER_NAME=e2e",
		"GIT_COMMITTER_EMAIL=e2e@homelab.invalid",
	}
	if home, ok := os.LookupEnv("HOME"); ok {
		env = append(env, "HOME="+home)
	}
	return env
}

type logWriter struct{ log *slog.Logger }

func (w *logWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		w.log.Warn("git http-backend", "stderr", msg)
	}
	return len(p), nil
}
