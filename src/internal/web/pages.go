package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/records"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// historyPageLimit bounds the history table.
const historyPageLimit = 200

var pageFiles = []string{"plan.html", "log.html", "history.html", "progress.html", "records.html", "import.html", "settings.html", "session.html", "error.html"}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"load": func(v float64, u workout.Unit) string {
			if v == 0 {
				return "bodyweight"
			}
			return trimFloat(v) + " " + string(u)
		},
		"num": trimFloat,
		"day": func(t time.Time) string { return t.Format("Mon 2 Jan 2006") },
		"clock": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("15:04:05 MST")
		},
		"rowErr": func(errs workout.FieldErrors, i int, field string) string {
			return errs[fmt.Sprintf("rows[%d].%s", i, field)]
		},
		"inc":       func(i int) int { return i + 1 },
		"fields":    func() []string { return []string{"reps", "weight", "rpe"} },
		"groups":    plan.Groups,
		"plural":    plural,
		"equipment": func() []workout.Equipment { return equipmentKinds },
		"days": func() []int {
			out := make([]int, 0, MaxDaysPerWeek-MinDaysPerWeek+1)
			for d := MinDaysPerWeek; d <= MaxDaysPerWeek; d++ {
				out = append(out, d)
			}
			return out
		},
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

// e1rmLabel is a workout's best estimated one-rep max for the history
// table; none for a bodyweight exercise, whose added load alone has none.
func e1rmLabel(exs workout.Exercises, w workout.Workout) string {
	if ex, ok := exs.Lookup(w.Exercise); !ok || ex.Bodyweight {
		return ""
	}
	best := 0.0
	for _, s := range w.Sets {
		best = max(best, plan.E1RM(s.Weight, s.Reps))
	}
	if best == 0 {
		return ""
	}
	return trimFloat(best) + " " + string(w.Unit)
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
	Units    []workout.Unit
	Problem  string
	History  *historyView
	Charts   []exerciseCharts
	Workouts []workout.Workout
	// Pending marks Workouts accepted but not yet read from the database.
	Pending map[string]bool
	Message string
	// PlanUnavailable: the history was never read, so there is no plan.
	PlanUnavailable bool
	// TZ is the user's time zone as the server knew it ("" if not); the
	// plan page asks tz.js to reload it once when the browser's differs.
	TZ          string
	ReloadForTZ bool
	// EditOf is the id of the workout the log form edits ("" to log one).
	EditOf string
	// Deleted are the user's workouts deleted within the undo window.
	Deleted []workout.Workout
	// Records are the user's personal records by exercise (records page);
	// Badges label the listed workouts that broke one (history page).
	Records []exerciseRecords
	Badges  map[string]string
	// Import is an import's report; StrongNames the Strong exercise names
	// the importer understands.
	Import      *importReport
	StrongNames []string
	// SignOut offers the sign-out button (an OpenID Connect session).
	SignOut bool
	// Session is the whole-session form.
	Session *sessionForm
	// Settings is the settings form; Onboard asks a new user to set up.
	Settings *settingsForm
	Onboard  bool
	loc      *time.Location
	// custom are the user's own exercises; known finds them and the
	// catalogue's.
	custom []store.CustomExercise
	known  workout.Exercises
}

// Exercises are the exercises a form offers: the catalogue and the user's
// own, by muscle group.
func (p page) Exercises() []exerciseGroup { return groupedCatalogue(p.custom...) }

// ExerciseName names an exercise of the catalogue or of the user's own.
func (p page) ExerciseName(key string) string {
	if ex, ok := p.known.Lookup(key); ok {
		return ex.Name
	}
	return key
}

// Sets summarises a workout's sets for the history table.
func (p page) Sets(w workout.Workout) string { return setsLabel(p.known, w) }

// E1RM is a workout's best estimated one-rep max for the history table.
func (p page) E1RM(w workout.Workout) string { return e1rmLabel(p.known, w) }

// Day formats t as a day in the user's time zone (UTC when unknown).
func (p page) Day(t time.Time) string {
	if p.loc != nil {
		t = t.In(p.loc)
	}
	return t.Format("Mon 2 Jan 2006")
}

// MaxNotes is the notes field's limit in characters.
func (p page) MaxNotes() int { return workout.MaxNotesLength }

type historyView struct {
	Exercise string
	From, To string
	Errors   map[string]string
	Logged   string
	// Page is the page shown (1: the newest historyPageLimit workouts);
	// Prev and Next link the neighbouring pages ("" when none).
	Page       int
	Prev, Next string
}

// maxHistoryPages bounds ?page= (the view holds at most store.MaxPerUser).
const maxHistoryPages = 25

// pageURL is the history URL of page n with the same filter.
func (hv historyView) pageURL(n int) string {
	v := url.Values{}
	for k, x := range map[string]string{"exercise": hv.Exercise, "from": hv.From, "to": hv.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	if len(v) == 0 {
		return "/history"
	}
	return "/history?" + v.Encode()
}

func (s *Server) newPage(r *http.Request, title, nav string) page {
	id := identity(r)
	p := page{Title: title, Nav: nav, User: id.UserID, Dev: s.opts.Dev || id.Dev, RequestID: requestIDFrom(r.Context()),
		SignOut: s.opts.Login != nil && r.Header.Get(access.Header) == "" && !id.Dev}
	if p.loc = s.zone(r); p.loc != nil {
		p.TZ = p.loc.String()
	}
	prof := s.profile(r.Context(), id.UserID)
	p.custom, p.known = prof.Exercises, prof.Known()
	return p
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
	p.ReloadForTZ = true
	h := s.history(r.Context(), p.User, HistoryQuery{})
	p.Stale, p.AsOf = h.Stale, h.AsOf
	if h.Unknown() {
		p.PlanUnavailable = true
		s.render(w, r, http.StatusOK, "plan.html", p)
		return
	}
	prof := s.profile(r.Context(), p.User)
	p.Onboard = len(h.Workouts) == 0 && prof.UpdatedAt.IsZero() && s.opts.Profiles != nil
	if r.URL.Query().Get("welcome") == "1" {
		p.Flash = "Settings saved. Here is today's plan; log what you do and it adapts."
	}
	pl := plan.BuildFor(h.Workouts, s.userNow(r), planProfile(prof))
	p.Plan = &pl
	s.render(w, r, http.StatusOK, "plan.html", p)
}

func (s *Server) logForm(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Log workout", "log")
	h := s.history(r.Context(), p.User, HistoryQuery{})
	p.Stale, p.AsOf = h.Stale, h.AsOf
	prof := s.profile(r.Context(), p.User)
	unit := formUnit(h, r)
	if prof.Unit != "" {
		unit = prof.Unit
	}
	f := NewForm(s.now(), p.loc, unit)
	if ex := r.URL.Query().Get("exercise"); ex != "" {
		if _, ok := workout.Lookup(ex); ok || workout.IsCustomKey(ex) {
			f.Exercise = ex
			// Prefill today's prescription for it, so logging as planned
			// is one tap; the user edits what differed. Not from a
			// history never read: that would be a beginner's.
			if h.Unknown() {
				p.Problem = "Today's prescription is unavailable: your history could not be read yet. Enter what you did."
			} else if pr, ok := plan.NextFor(h.Workouts, ex, s.userNow(r), planProfile(prof)); ok {
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

// formUnit preselects the unit of the user's latest workout, else the one
// of the last form they logged, else kilograms for a user known to have no
// history; "" (the user must choose) when none of that is known.
func formUnit(h History, r *http.Request) workout.Unit {
	if len(h.Workouts) > 0 {
		return plan.PreferredUnit(h.Workouts)
	}
	if u := cookieUnit(r); u != "" {
		return u
	}
	if h.Unknown() {
		return ""
	}
	return workout.Kilograms
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, status int, p page, f Form, errs workout.FieldErrors) {
	p.Form, p.Errors = &f, errs
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
	if len(errs) == 0 {
		errs = customErrors(p.custom, wo)
	}
	if len(errs) > 0 {
		s.renderForm(w, r, http.StatusUnprocessableEntity, p, f, errs)
		return
	}
	fp := formFingerprint(f)
	if prev, seen := s.logged.lookup(p.User, wo.ID); seen {
		if prev != fp {
			// The same form id with other content: an edited form sent
			// again after it was logged. Keep what was typed under a new
			// id, so that sending it again is a new workout, never lost.
			f.IdempotencyKey = uuid.NewString()
			p.Problem = "This form was already logged with different values (see History). " +
				"What you typed is kept here as a new workout: submit again to log it too."
			s.renderForm(w, r, http.StatusUnprocessableEntity, p, f, nil)
			return
		}
		rememberUnit(w, r, wo.Unit)
		http.Redirect(w, r, "/history?logged="+wo.ID, http.StatusSeeOther)
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
	s.logged.add(p.User, wo.ID, fp)
	rememberUnit(w, r, wo.Unit)
	http.Redirect(w, r, "/history?logged="+wo.ID, http.StatusSeeOther)
}

func (s *Server) historyPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "History", "history")
	q, hv := parseHistoryQuery(r)
	query := r.URL.Query()
	switch {
	case workout.ValidID(query.Get("logged")):
		hv.Logged = query.Get("logged")
		p.Flash = "Workout logged and confirmed by the message queue."
	case workout.ValidID(query.Get("edited")):
		hv.Logged = query.Get("edited")
		p.Flash = "Changes saved and confirmed by the message queue."
	case workout.ValidID(query.Get("deleted")):
		p.Flash = fmt.Sprintf("Workout deleted. You can undo it below for %d minutes.", int(UndoWindow.Minutes()))
	case workout.ValidID(query.Get("restored")):
		hv.Logged = query.Get("restored")
		p.Flash = "Workout restored."
	}
	hv.Page = 1
	if v := query.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryPages {
			hv.Errors["page"] = fmt.Sprintf("must be a page from 1 to %d", maxHistoryPages)
		}
		hv.Page = n
	}
	p.History = &hv
	if len(hv.Errors) == 0 {
		// One read of the whole history (the view holds it in memory): the
		// page's rows are filtered from it and the records found in it. The
		// deleted workouts' read shares its deadline, so that a slow
		// database costs the page one read timeout, not two.
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadTimeout)
		defer cancel()
		all := s.history(ctx, p.User, HistoryQuery{})
		p.Stale, p.AsOf, p.Pending = all.Stale, all.AsOf, all.Pending
		var rows []workout.Workout
		for _, wo := range all.Workouts {
			if q.keeps(wo) {
				rows = append(rows, wo)
			}
		}
		first := (hv.Page - 1) * historyPageLimit
		if first < len(rows) {
			p.Workouts = rows[first:min(len(rows), first+historyPageLimit)]
		}
		if hv.Page > 1 {
			hv.Prev = hv.pageURL(hv.Page - 1)
		}
		if first+historyPageLimit < len(rows) && hv.Page < maxHistoryPages {
			hv.Next = hv.pageURL(hv.Page + 1)
		}
		if !all.Unknown() {
			unit := plan.PreferredUnit(all.Workouts)
			p.Badges = map[string]string{}
			for id, rs := range records.Find(all.Workouts, p.known).Broken {
				p.Badges[id] = brokenLabel(p.known, rs, unit)
			}
			if b := p.Badges[hv.Logged]; b != "" && p.Flash != "" {
				p.Flash += " New " + strings.ToLower(b[:1]) + b[1:] + "."
			}
		}
		now := s.now()
		for _, d := range s.history(ctx, p.User, HistoryQuery{Deleted: true}).Workouts {
			if undoable(d, now) {
				p.Deleted = append(p.Deleted, d)
			}
		}
	}
	status := http.StatusOK
	if len(hv.Errors) > 0 {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "history.html", p)
}

// keeps reports whether w matches q's exercise and dates.
func (q HistoryQuery) keeps(w workout.Workout) bool {
	return (q.Exercise == "" || w.Exercise == q.Exercise) &&
		(q.From.IsZero() || !w.PerformedAt.Before(q.From)) &&
		(q.To.IsZero() || w.PerformedAt.Before(q.To))
}

// parseHistoryQuery reads ?exercise=&from=&to= (dates, "to" inclusive).
func parseHistoryQuery(r *http.Request) (HistoryQuery, historyView) {
	v := r.URL.Query()
	hv := historyView{Exercise: v.Get("exercise"), From: v.Get("from"), To: v.Get("to"), Errors: map[string]string{}}
	var q HistoryQuery
	if hv.Exercise != "" {
		if _, ok := workout.Lookup(hv.Exercise); !ok && !workout.IsCustomKey(hv.Exercise) {
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
	if !h.Unknown() {
		loc := p.loc
		if loc == nil {
			loc = time.UTC
		}
		p.Charts = buildCharts(plan.Trends(h.Workouts, p.known, plan.PreferredUnit(h.Workouts), loc))
	}
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
