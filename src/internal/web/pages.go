package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// historyPageLimit bounds the history table.
const historyPageLimit = 200

var pageFiles = []string{"plan.html", "log.html", "history.html", "progress.html", "error.html"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"load": func(v float64, u workout.Unit) string {
			if v == 0 {
				return "bodyweight"
			}
			return trimFloat(v) + " " + string(u)
		},
		"num":  trimFloat,
		"sets": setsLabel,
		"day":  func(t time.Time) string { return t.Format("Mon 2 Jan 2006") },
		"clock": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("15:04:05 MST")
		},
		"e1rm": func(w workout.Workout) string {
			best := 0.0
			for _, s := range w.Sets {
				best = max(best, plan.E1RM(s.Weight, s.Reps))
			}
			if best == 0 {
				return ""
			}
			return trimFloat(best) + " " + string(w.Unit)
		},
		"rowErr": func(errs workout.FieldErrors, i int, field string) string {
			return errs[fmt.Sprintf("rows[%d].%s", i, field)]
		},
		"inc":   func(i int) int { return i + 1 },
		"rowID": func(field string, i int) string { return fmt.Sprintf("%s_%d", field, i) },
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
	}
	out := map[string]*template.Template{}
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", path.Join("templates", name))
		if err != nil {
			return nil, fmt.Errorf("web: parse template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// page is what every template gets.
type page struct {
	Title     string
	Nav       string
	User      string
	Dev       bool
	Stale     bool
	AsOf      time.Time
	RequestID string
	Flash     string

	Plan     *plan.Plan
	Form     *Form
	Errors   workout.FieldErrors
	Catalog  []workout.Exercise
	Units    []workout.Unit
	Problem  string
	History  *historyView
	Charts   []exerciseCharts
	Workouts []workout.Workout
	// Pending marks Workouts accepted but not yet read from the database.
	Pending map[string]bool
	Message string
}

type historyView struct {
	Exercise string
	From, To string
	Errors   map[string]string
	Logged   string
	Limited  bool
}

func (s *Server) newPage(r *http.Request, title, nav string) page {
	id := identity(r)
	return page{Title: title, Nav: nav, User: id.UserID, Dev: s.opts.Dev || id.Dev, RequestID: requestIDFrom(r.Context())}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.logger(r.Context()).Error("render page", "page", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// StaleHeader is set on responses built from a last-known view.
const StaleHeader = "X-Data-Stale"

func (s *Server) planPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Today", "plan")
	h := s.history(r.Context(), p.User, HistoryQuery{})
	pl := plan.Build(h.Workouts, s.now())
	p.Plan, p.Stale, p.AsOf = &pl, h.Stale, h.AsOf
	s.render(w, r, http.StatusOK, "plan.html", p)
}

func (s *Server) logForm(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Log workout", "log")
	f := NewForm(s.now(), workout.Kilograms)
	if ex := r.URL.Query().Get("exercise"); ex != "" {
		if _, ok := workout.Lookup(ex); ok {
			f.Exercise = ex
			// Prefill today's prescription for it, so logging as planned
			// is one tap; the user edits what differed.
			h := s.history(r.Context(), p.User, HistoryQuery{})
			p.Stale, p.AsOf = h.Stale, h.AsOf
			if pr, ok := plan.Next(h.Workouts, ex, s.now()); ok {
				f.Unit = string(pr.Unit)
				for i := 0; i < pr.Sets && i < FormRows; i++ {
					f.Rows[i] = FormRow{Reps: fmt.Sprint(pr.Reps), Weight: trimFloat(pr.Weight)}
				}
				if pr.Weight == 0 && pr.Exercise.Bodyweight {
					for i := 0; i < pr.Sets && i < FormRows; i++ {
						f.Rows[i].Weight = ""
					}
				}
				p.Flash = "Prefilled with today's prescription: " + pr.Reason
			}
		}
	}
	if u := workout.Unit(r.URL.Query().Get("unit")); u == workout.Kilograms || u == workout.Pounds {
		f.Unit = string(u)
	}
	s.renderForm(w, r, http.StatusOK, p, f, nil)
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, status int, p page, f Form, errs workout.FieldErrors) {
	p.Form, p.Errors = &f, errs
	p.Catalog = workout.Catalogue()
	p.Units = []workout.Unit{workout.Kilograms, workout.Pounds}
	s.render(w, r, status, "log.html", p)
}

func (s *Server) logSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Log workout", "log")
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.renderError(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
			return
		}
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	wo, f, errs := ParseForm(r.PostForm, p.User, s.now())
	if len(errs) > 0 {
		s.renderForm(w, r, http.StatusUnprocessableEntity, p, f, errs)
		return
	}
	if err := s.publish(r.Context(), wo); err != nil {
		// Keep what was typed and the same id: submitting again is a retry
		// of the same workout, never a second one.
		s.retryAfter(w)
		p.Problem = fmt.Sprintf("Your workout is not logged yet: the message queue did not confirm it. "+
			"Nothing was lost; submit again in %d seconds.", int(s.opts.RetryAfter.Seconds()))
		s.renderForm(w, r, http.StatusServiceUnavailable, p, f, nil)
		return
	}
	http.Redirect(w, r, "/history?logged="+wo.ID, http.StatusSeeOther)
}

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "History", "history")
	q, hv := parseHistoryQuery(r)
	if logged := r.URL.Query().Get("logged"); workout.ValidID(logged) {
		hv.Logged = logged
		p.Flash = "Workout logged and confirmed by the message queue."
	}
	p.History = &hv
	if len(hv.Errors) == 0 {
		q.Limit = historyPageLimit
		h := s.history(r.Context(), p.User, q)
		p.Workouts, p.Stale, p.AsOf, p.Pending = h.Workouts, h.Stale, h.AsOf, h.Pending
		hv.Limited = len(h.Workouts) >= historyPageLimit
	}
	status := http.StatusOK
	if len(hv.Errors) > 0 {
		status = http.StatusBadRequest
	}
	p.Catalog = workout.Catalogue()
	s.render(w, r, status, "history.html", p)
}

// parseHistoryQuery reads ?exercise=&from=&to= (dates, "to" inclusive).
func parseHistoryQuery(r *http.Request) (HistoryQuery, historyView) {
	v := r.URL.Query()
	hv := historyView{Exercise: v.Get("exercise"), From: v.Get("from"), To: v.Get("to"), Errors: map[string]string{}}
	var q HistoryQuery
	if hv.Exercise != "" {
		if _, ok := workout.Lookup(hv.Exercise); !ok {
			hv.Errors["exercise"] = "unknown exercise"
		}
		q.Exercise = hv.Exercise
	}
	if hv.From != "" {
		d, err := time.Parse(DateLayout, hv.From)
		if err != nil {
			hv.Errors["from"] = "use the format YYYY-MM-DD"
		}
		q.From = d
	}
	if hv.To != "" {
		d, err := time.Parse(DateLayout, hv.To)
		if err != nil {
			hv.Errors["to"] = "use the format YYYY-MM-DD"
		}
		q.To = d.AddDate(0, 0, 1)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		hv.Errors["to"] = "must not be before the start date"
	}
	return q, hv
}

func (s *Server) progressPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Progress", "progress")
	h := s.history(r.Context(), p.User, HistoryQuery{})
	p.Stale, p.AsOf = h.Stale, h.AsOf
	p.Charts = buildCharts(plan.Trends(h.Workouts, plan.PreferredUnit(h.Workouts)))
	s.render(w, r, http.StatusOK, "progress.html", p)
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	p := s.newPage(r, http.StatusText(status), "")
	p.Message = msg
	s.render(w, r, status, "error.html", p)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "There is no page here.")
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusMethodNotAllowed, "That method is not allowed here.")
}
