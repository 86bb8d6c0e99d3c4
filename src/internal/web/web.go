// Package web serves the fitness app: server-rendered pages (today's plan,
// log workout, history, progress) and a versioned JSON API beside them.
//
// Every page and API call is behind Cloudflare Access (package access),
// cross-origin protection for unsafe methods and strict security headers.
// Logging a workout answers only after the broker confirmed the message;
// reads run under a short deadline and fall back to the last-known view,
// marked stale, so pages render in bounded time when the database is slow
// or down.
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

//go:embed templates/*.html static/* openapi.yaml
var assets embed.FS

// Publisher sends a workout to the broker. PublishWithin returns nil only
// after the broker confirmed the message, and gives up when ctx ends or
// timeout passes; Ready reports whether it can publish. The timeout is a
// parameter, not a context.WithTimeout of the caller's: a child context
// per POST cost a timer and its registration with the request's context.
type Publisher interface {
	PublishWithin(ctx context.Context, w workout.Workout, timeout time.Duration) error
	Ready() bool
}

// HistoryQuery selects workouts of one user: performed_at in [From, To)
// (zero: open), one exercise or all, at most Limit (0: the reader's default).
type HistoryQuery struct {
	Exercise string
	From, To time.Time
	Limit    int
	// Deleted asks for the deleted workouts (kept for undo) instead.
	Deleted bool
}

// History is what a Reader answered.
type History struct {
	// Workouts are newest first.
	Workouts []workout.Workout
	// Stale is true when this is a last-known view the database could not
	// refresh in time; AsOf is when it was read (zero: never).
	Stale bool
	AsOf  time.Time
	// Pending holds the ids of Workouts accepted but not yet read back
	// from the database.
	Pending map[string]bool
}

// Unknown reports that nothing was ever read for the user: the view holds
// at most what this process published since it started. No plan can be
// made from it: a user with years of history would get a beginner's.
func (h History) Unknown() bool { return h.Stale && h.AsOf.IsZero() }

// Reader reads workout history. History answers within ctx's deadline,
// from a last-known view when the database is slow or down; its error is
// for a bad query or a cancelled ctx. Remember adds a confirmed workout to
// the user's view so it shows at once.
type Reader interface {
	History(ctx context.Context, userID string, q HistoryQuery) (History, error)
	Remember(w workout.Workout)
}

// Announcer tells the other web replicas about a workout this one
// accepted (package peers), so that they show it before their next
// history refresh. It must not block.
type Announcer interface {
	Announce(w workout.Workout)
}

// Profiles reads and saves users' settings. Get answers from memory or
// within ctx; on a database error it returns the last known profile (zero
// but for UserID when none) with the error.
type Profiles interface {
	Get(ctx context.Context, userID string) (store.Profile, error)
	Save(ctx context.Context, p store.Profile) error
}

// Login serves the sign-in routes under /auth/.
type Login interface {
	http.Handler
	// LoginURL starts a sign-in that returns to next.
	LoginURL(next string) string
}

// Options configure a Server.
type Options struct {
	Publisher Publisher
	Reader    Reader
	// Peers, when set, hears of every confirmed workout (several replicas).
	Peers Announcer
	// Profiles keeps users' settings (store.Profiles); without it the
	// settings page is unavailable and plans come from the history alone.
	Profiles Profiles
	// Login, when set, serves /auth/ (OpenID Connect sign-in, package
	// oidclogin) and is where a page request without a token is sent; Auth
	// then accepts its session cookie.
	Login Login
	// Auth identifies users: an access.Verifier in production,
	// access.Dev in development mode.
	Auth access.Authenticator
	// Dev shows the development-mode banner on every page.
	Dev    bool
	Logger *slog.Logger
	// Registry receives the app's metrics (default: a private registry).
	Registry prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ReadTimeout bounds one history read (default 400 ms).
	ReadTimeout time.Duration
	// PublishTimeout bounds waiting for the broker's confirm (default 5 s).
	PublishTimeout time.Duration
	// RetryAfter is the Retry-After of a 503 (default 5 s).
	RetryAfter time.Duration
}

// Server is the web app's HTTP handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	pages   map[string]*template.Template
	static  fs.FS
	metrics *metrics
	handler http.Handler
	// logged remembers the workouts confirmed here, to refuse an
	// Idempotency-Key reused for a different workout.
	logged *idempotencyCache
	// requestIDs makes the ids of requests that come without one.
	requestIDs *requestIDs
	// imports bounds the imports running at once.
	imports *importer
}

// New builds the server and its routes.
func New(opts Options) (*Server, error) {
	if opts.Publisher == nil || opts.Reader == nil || opts.Auth == nil {
		return nil, errors.New("web: publisher, reader and authenticator are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 400 * time.Millisecond
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = 5 * time.Second
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 5 * time.Second
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	m, err := newMetrics(opts.Registry, opts.Publisher)
	if err != nil {
		return nil, err
	}
	ids, err := newRequestIDs()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Logger, pages: pages, static: static, metrics: m, requestIDs: ids, logged: newIdempotencyCache(idempotencyEntries),
		imports: &importer{running: map[string]bool{}}}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(routeName)

	// The API is registered on the root router, not a subrouter: mux
	// answers 404 instead of 405 for a method mismatch inside a subrouter.
	// It comes first: mux tries the routes in order, a regular expression
	// each, and no page path starts with /api/, so the order changes no
	// match and POST /api/v1/workouts, the hot path, is tried third.
	r.HandleFunc("/api/v1/plan", s.apiPlan).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/workouts", s.apiListWorkouts).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/workouts", s.apiPostWorkout).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/workouts/{id}", s.apiGetWorkout).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/workouts/{id}", s.apiPutWorkout).Methods(http.MethodPut)
	r.HandleFunc("/api/v1/workouts/{id}", s.apiDeleteWorkout).Methods(http.MethodDelete)
	r.HandleFunc("/api/v1/workouts/{id}/undo", s.apiUndoDelete).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/export", s.exportFile).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/import", s.apiImport).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/sessions", s.apiPostSession).Methods(http.MethodPost)
	r.HandleFunc("/api/v1/exercises", s.apiExercises).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/records", s.apiRecords).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/openapi.yaml", s.apiSpec).Methods(http.MethodGet)

	r.HandleFunc("/", s.planPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/log", s.logForm).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/log", s.logSubmit).Methods(http.MethodPost)
	r.HandleFunc("/history", s.historyPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/progress", s.progressPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/session", s.sessionPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/session", s.sessionSubmit).Methods(http.MethodPost)
	r.HandleFunc("/settings", s.settingsPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/settings", s.settingsSubmit).Methods(http.MethodPost)
	r.HandleFunc("/import", s.importPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/import", s.importSubmit).Methods(http.MethodPost)
	r.HandleFunc("/export", s.exportFile).Methods(http.MethodGet)
	r.HandleFunc("/records", s.recordsPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/workouts/{id}/edit", s.editForm).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/workouts/{id}/edit", s.editSubmit).Methods(http.MethodPost)
	r.HandleFunc("/workouts/{id}/delete", s.deleteSubmit).Methods(http.MethodPost)
	r.HandleFunc("/workouts/{id}/undo", s.undoSubmit).Methods(http.MethodPost)
	r.PathPrefix("/static/").Handler(http.StripPrefix("/static/", staticHandler(s.static))).Methods(http.MethodGet, http.MethodHead)

	r.NotFoundHandler = http.HandlerFunc(s.notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.metrics.csrfRejected.Inc()
		s.logger(r.Context()).Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		s.renderError(w, r, http.StatusForbidden, "Cross-origin request refused: submit from this site's own pages.")
	}))

	var loginURL func(string) string
	if s.opts.Login != nil {
		loginURL = s.opts.Login.LoginURL
	}
	authed := access.MiddlewareWithLogin(s.opts.Auth, func(r *http.Request, err error) {
		reason := "invalid"
		if errors.Is(err, access.ErrNoToken) {
			reason = "missing"
		}
		s.metrics.authRejected.WithLabelValues(reason).Inc()
		s.logger(r.Context()).Warn("request refused by access check", "reason", reason, "error", err.Error(), "path", r.URL.Path)
	}, loginURL)(csrf.Handler(limitBody(r)))

	probes := http.NewServeMux()
	probes.HandleFunc("GET /healthz", s.healthz)
	probes.HandleFunc("GET /readyz", s.readyz)
	probes.Handle("/", authed)
	if s.opts.Login != nil {
		// Before any sign-in: the callback is a top-level GET from the
		// provider; logout is a POST from this site's pages only.
		probes.Handle("/auth/", csrf.Handler(s.opts.Login))
	}

	return s.observe(recoverPanics(s.log, probes))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	setRoute(r.Context(), "/healthz")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz is ready when the publisher is connected with the topology
// declared: logging is what must work, reads degrade by design.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	setRoute(r.Context(), "/readyz")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !s.opts.Publisher.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("broker not connected\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func staticHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

func (s *Server) now() time.Time { return s.opts.Now() }

// history reads under the read deadline and never fails a page: a read
// error yields an empty view marked stale.
func (s *Server) history(ctx context.Context, userID string, q HistoryQuery) History {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	h, err := s.opts.Reader.History(ctx, userID, q)
	switch {
	case err != nil:
		s.metrics.reads.WithLabelValues("error").Inc()
		s.logger(ctx).Warn("history read failed; rendering without data", "error", err.Error())
		return History{Stale: true}
	case h.Stale:
		s.metrics.reads.WithLabelValues("stale").Inc()
	default:
		s.metrics.reads.WithLabelValues("fresh").Inc()
	}
	return h
}

// publish sends w and waits for the broker's confirm.
func (s *Server) publish(ctx context.Context, w workout.Workout) error {
	start := time.Now()
	err := s.opts.Publisher.PublishWithin(ctx, w, s.opts.PublishTimeout)
	s.metrics.publishSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.published.WithLabelValues("failed").Inc()
		s.logger(ctx).Error("workout not confirmed by the broker", "workout_id", w.ID, "error", err.Error())
		return err
	}
	s.metrics.published.WithLabelValues("confirmed").Inc()
	s.opts.Reader.Remember(w)
	if s.opts.Peers != nil {
		s.opts.Peers.Announce(w)
	}
	return nil
}

func (s *Server) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", fmt.Sprint(int(s.opts.RetryAfter.Seconds())))
}

func identity(r *http.Request) access.Identity {
	id, _ := access.FromContext(r.Context())
	return id
}
