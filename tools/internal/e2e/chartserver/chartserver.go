// Package chartserver serves a directory of Helm chart archives to Flux on
// loopback, as the two kinds of chart repository the tree uses: an HTTP Helm
// repository (the directory's index.yaml and .tgz files) and an OCI
// registry (go-containerregistry's in-process registry) into which the same
// archives are pushed with Helm's registry client, as `helm push` does.
package chartserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// Chart is one archive of the directory.
type Chart struct {
	Name, Version string
	// File is the archive's name in the directory.
	File string
}

// Server serves the charts of one directory until Close.
type Server struct {
	addr   string
	srv    *http.Server
	done   chan error
	charts []Chart
}

// Start checks dir's index.yaml against the archives beside it and serves
// both on a free 127.0.0.1 port: the Helm repository under /charts/, the
// OCI registry under /v2/. Every entry of the index must point at an archive
// of dir by a relative URL, so that what Flux downloads is the file in dir.
func Start(dir string, log *slog.Logger) (*Server, error) {
	charts, err := readIndex(dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the chart server: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", registry.New(registry.Logger(slog.NewLogLogger(log.Handler(), slog.LevelDebug))))
	mux.Handle("/charts/", http.StripPrefix("/charts/", http.FileServer(onlyFiles(dir))))
	s := &Server{
		addr:   ln.Addr().String(),
		srv:    &http.Server{Handler: logRequests(mux, log), ReadHeaderTimeout: 10 * time.Second},
		done:   make(chan error, 1),
		charts: charts,
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	log.Info("chart server listening", "helm", s.HelmURL(), "oci", "oci://"+s.addr, "charts", len(charts))
	return s, nil
}

// readIndex loads dir/index.yaml and returns its charts, each checked to
// be an archive in dir.
func readIndex(dir string) ([]Chart, error) {
	indexPath := filepath.Join(dir, "index.yaml")
	idx, err := repo.LoadIndexFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("chart mirror %s: %w", indexPath, err)
	}
	var charts []Chart
	for name, versions := range idx.Entries {
		for _, v := range versions {
			if len(v.URLs) == 0 {
				return nil, fmt.Errorf("%s: %s %s has no urls", indexPath, name, v.Version)
			}
			for _, u := range v.URLs {
				parsed, err := url.Parse(u)
				if err != nil || parsed.IsAbs() || parsed.Host != "" || path.Base(u) != u {
					return nil, fmt.Errorf("%s: %s %s: url %q is not the name of an archive beside the index", indexPath, name, v.Version, u)
				}
				if _, err := os.Stat(filepath.Join(dir, u)); err != nil {
					return nil, fmt.Errorf("%s: %s %s: %w", indexPath, name, v.Version, err)
				}
			}
			charts = append(charts, Chart{Name: name, Version: v.Version, File: v.URLs[0]})
		}
	}
	if len(charts) == 0 {
		return nil, fmt.Errorf("%s lists no charts", indexPath)
	}
	slices.SortFunc(charts, func(a, b Chart) int { return strings.Compare(a.Name+"@"+a.Version, b.Name+"@"+b.Version) })
	return charts, nil
}

// HelmURL is the URL of the HTTP Helm repository (a HelmRepository's
// spec.url).
func (s *Server) HelmURL() string { return "http://" + s.addr + "/charts/" }

// Charts lists the archives served.
func (s *Server) Charts() []Chart { return s.charts }

// PushOCI pushes every chart of the directory into the registry under
// repoPath (as <repoPath>/<name>:<version>) and returns the URL of that
// repository for an OCI HelmRepository, oci://127.0.0.1:<port>/<repoPath>.
// The registry speaks plain HTTP: the HelmRepository needs spec.insecure.
func (s *Server) PushOCI(ctx context.Context, dir, repoPath string) (string, error) {
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptWriter(io.Discard))
	if err != nil {
		return "", fmt.Errorf("helm registry client: %w", err)
	}
	repoPath = strings.Trim(repoPath, "/")
	for _, c := range s.charts {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		data, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			return "", err
		}
		ref := fmt.Sprintf("%s/%s/%s:%s", s.addr, repoPath, c.Name, c.Version)
		if _, err := client.Push(data, ref); err != nil {
			return "", fmt.Errorf("push %s to %s: %w", c.File, ref, err)
		}
	}
	return "oci://" + s.addr + "/" + repoPath, nil
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// onlyFiles hides directory listings: a Helm repository is its index and
// archives, nothing else.
type onlyFiles string

func (d onlyFiles) Open(name string) (http.File, error) {
	f, err := http.Dir(d).Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, os.ErrNotExist
	}
	return f, nil
}

// logRequests logs each request at debug level, so that -v shows what Flux
// fetched.
func logRequests(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Debug("chart server", "method", r.Method, "path", r.URL.Path)
		h.ServeHTTP(w, r)
	})
}
