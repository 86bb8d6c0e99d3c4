package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// validRequestID accepts 1 to 64 characters of [A-Za-z0-9._-].
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

type ctxKey int

const requestKey ctxKey = 0

// requestInfo is what the middleware keeps about a request in its
// context: one value, so that a request is copied once for it.
type requestInfo struct {
	id string
	// route is the matched route template, filled in by the router, for
	// metrics labels that stay bounded.
	route string
}

// newRequestID takes a well-formed incoming X-Request-Id (from the proxy)
// or makes one.
func newRequestID(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if validRequestID(id) {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger returns the server's logger with the request id of ctx; it is
// made only when something is logged, which keeps the hot path cheap.
func (s *Server) logger(ctx context.Context) *slog.Logger {
	if id := requestIDFrom(ctx); id != "" {
		return s.log.With("request_id", id)
	}
	return s.log
}

func requestIDFrom(ctx context.Context) string {
	if ri, ok := ctx.Value(requestKey).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

func setRoute(ctx context.Context, name string) {
	if ri, ok := ctx.Value(requestKey).(*requestInfo); ok {
		ri.route = name
	}
}

// routeName is a mux middleware: it runs after matching.
func routeName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cur := mux.CurrentRoute(r); cur != nil {
			if tmpl, err := cur.GetPathTemplate(); err == nil {
				setRoute(r.Context(), tmpl)
			}
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives the request its id (echoed in X-Request-Id and kept in the
// context for the logger), records metrics and writes one access log line.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: newRequestID(r), route: "unmatched"}
		w.Header().Set(RequestIDHeader, ri.id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestKey, ri)))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(ri.route, r.Method, statusClass(sw.status)).Inc()
		s.metrics.duration.WithLabelValues(ri.route, r.Method).Observe(d.Seconds())
		level := slog.LevelInfo
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.Log(r.Context(), level, "http request", "request_id", ri.id,
			"method", r.Method, "route", ri.route, "path", r.URL.Path, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", float64(d.Microseconds())/1000)
	})
}

func statusClass(code int) string {
	return []string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}[min(max(code/100, 0), 5)]
}

// ContentSecurityPolicy allows only this origin's stylesheet, script file
// (the browser's time zone, static/tz.js) and forms: no inline scripts or
// styles, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaderValues are set on every response.
var securityHeaderValues = [...][2]string{
	{"Content-Security-Policy", ContentSecurityPolicy},
	{"Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Referrer-Policy", "no-referrer"},
	{"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
	{"Cache-Control", "no-store"},
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// One allocation for every value; each header gets its own
		// one-element slice (capacity 1, so an Add cannot reach the next).
		vals := make([]string, len(securityHeaderValues))
		for i, kv := range securityHeaderValues {
			vals[i] = kv[1]
			h[kv[0]] = vals[i : i+1 : i+1]
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; a workout is small.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, workout.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic serving request", "request_id", requestIDFrom(r.Context()), "panic", v, "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
