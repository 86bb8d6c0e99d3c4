package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
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
	// id is the request id, as the one-element value of its header.
	id [1]string
	// route is the matched route template, filled in by the router, for
	// metrics labels that stay bounded.
	route string
}

// requestIDs makes request ids: a random prefix per server (96 bits, so
// replicas and restarts do not collide) and a counter. Reading
// crypto/rand for every request cost a system call per request; the
// counter makes ids as unique without one.
type requestIDs struct {
	prefix [25]byte // 24 hex digits and a dash
	n      atomic.Uint64
}

func newRequestIDs() (*requestIDs, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("web: request id prefix: %w", err)
	}
	g := &requestIDs{}
	hex.Encode(g.prefix[:24], b[:])
	g.prefix[24] = '-'
	return g, nil
}

// next takes a well-formed incoming X-Request-Id (from the proxy) or makes
// one: the prefix and the counter in hex, at most 41 characters.
func (g *requestIDs) next(r *http.Request) string {
	id := r.Header.Get(RequestIDHeader)
	if validRequestID(id) {
		return id
	}
	var b [41]byte
	out := strconv.AppendUint(append(b[:0], g.prefix[:]...), g.n.Add(1), 16)
	return string(out)
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
		return ri.id[0]
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

// statusWriter records an answer's status and size, and adds the security
// headers when the answer's header is written: by then the handler has set
// its Content-Type, which decides the set (securityHeadersFor).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		setSecurityHeaders(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		// net/http still sniffs a missing Content-Type from b: an
		// explicit 200 only records the status.
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives the request its id (echoed in X-Request-Id and kept in the
// context for the logger), adds the security headers, records metrics and
// writes one access log line.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// One allocation for both: they live as long as the request.
		o := &struct {
			ri requestInfo
			sw statusWriter
		}{ri: requestInfo{route: "unmatched"}, sw: statusWriter{ResponseWriter: w}}
		ri, sw := &o.ri, &o.sw
		ri.id[0] = s.requestIDs.next(r)
		// Direct assignment: the name is canonical, and the value's array
		// lives in ri (no allocation of its own).
		w.Header()[RequestIDHeader] = ri.id[:]
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), requestKey, ri)))
		if sw.status == 0 {
			// Nothing written: net/http sends an empty 200 with this header.
			sw.status = http.StatusOK
			setSecurityHeaders(w.Header())
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
		s.log.Log(r.Context(), level, "http request", "request_id", ri.id[0],
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

// header is one security header: a canonical name (the map is written
// directly) and its value as a one-element slice shared by every answer.
// Sharing is safe because nothing writes into a header's slice in place:
// Set and direct assignment replace it, Add appends beyond its capacity of
// one (a new array), and net/http copies the map when the header is
// written.
type header struct {
	name  string
	value []string
}

func newHeader(name, value string) header {
	return header{name: name, value: []string{value}[:1:1]}
}

// pageHeaders go on every answer that is not JSON: pages, forms, redirects,
// error pages, files.
var pageHeaders = [...]header{
	newHeader("Content-Security-Policy", ContentSecurityPolicy),
	newHeader("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
	newHeader("X-Content-Type-Options", "nosniff"),
	newHeader("X-Frame-Options", "DENY"),
	newHeader("Cross-Origin-Opener-Policy", "same-origin"),
	newHeader("Cross-Origin-Resource-Policy", "same-origin"),
	newHeader("Referrer-Policy", "no-referrer"),
	newHeader("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"),
	newHeader("Cache-Control", "no-store"),
}

// apiHeaders go on a JSON answer. With nosniff and a JSON Content-Type a
// browser never runs or renders the body as a document, so the headers
// that govern a document (its scripts and styles, framing, opener,
// referrer, browser features) have nothing to act on. What an API answer
// does need: nosniff (no sniffing the body into HTML or a script), no-store
// (a user's data stays out of caches) and same-origin CORP (another
// origin's page cannot pull the authenticated JSON into its process with a
// no-cors request). HSTS is learnt from the pages; in production the
// edge's security-headers middleware sets the whole page set on every
// answer anyway (apps/base/fitness/middleware-security-headers.yaml): this
// set is the app's own second layer, and it keeps the header map of the
// hot POST path small (net/http copies it and the client parses it).
var apiHeaders = [...]header{
	newHeader("X-Content-Type-Options", "nosniff"),
	newHeader("Cache-Control", "no-store"),
	newHeader("Cross-Origin-Resource-Policy", "same-origin"),
}

// securityHeadersFor picks the set for an answer of Content-Type ct: the
// API's only for JSON; anything else, or none (net/http would sniff it),
// gets the pages' set.
func securityHeadersFor(ct []string) []header {
	if len(ct) == 1 && (ct[0] == jsonType || strings.HasPrefix(ct[0], jsonType+";")) {
		return apiHeaders[:]
	}
	return pageHeaders[:]
}

// setSecurityHeaders adds the security headers the handler did not set
// itself (static files set their own Cache-Control).
func setSecurityHeaders(h http.Header) {
	for _, kv := range securityHeadersFor(h["Content-Type"]) {
		if _, set := h[kv.name]; !set {
			h[kv.name] = kv.value
		}
	}
}

// limitBody caps every request body: a workout is small; an import file
// (its own two paths) is not.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(workout.MaxBodyBytes)
		if r.URL.Path == "/import" || r.URL.Path == "/api/v1/import" {
			limit = MaxImportBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
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
