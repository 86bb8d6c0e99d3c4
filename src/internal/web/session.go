package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// SessionBlocks is how many exercises the session form offers; empty
// blocks are ignored.
const SessionBlocks = 4

// MaxSessionExercises bounds the exercises of one API session.
const MaxSessionExercises = 12

// sessionForm is the whole-session form as typed: shared date, zone and
// unit, one block (a log form's exercise, rows and notes) per exercise.
type sessionForm struct {
	Date, TZ, Unit string
	IdempotencyKey string
	Blocks         [SessionBlocks]Form
}

// blockID is the workout id of a session's i-th exercise: derived from the
// session's key, so that sending the session again is the same workouts.
func blockID(key string, i int) string {
	return uuid.NewSHA1(uuid.MustParse(key), []byte(fmt.Sprint(i))).String()
}

func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Log a session", "log")
	h := s.history(r.Context(), p.User, HistoryQuery{Limit: 1})
	unit := formUnit(h, r)
	if prof := s.profile(r.Context(), p.User); prof.Unit != "" {
		unit = prof.Unit
	}
	f := NewForm(s.now(), p.loc, unit)
	sf := sessionForm{Date: f.Date, TZ: f.TZ, Unit: f.Unit, IdempotencyKey: f.IdempotencyKey}
	s.renderSession(w, r, http.StatusOK, p, sf, nil)
}

func (s *Server) renderSession(w http.ResponseWriter, r *http.Request, status int, p page, sf sessionForm, errs workout.FieldErrors) {
	p.Session, p.Errors = &sf, errs
	p.Units = []workout.Unit{workout.Kilograms, workout.Pounds}
	s.render(w, r, status, "session.html", p)
}

// sessionSubmit validates every exercise of the session with the log
// form's rules and logs them all, or none when one is invalid.
func (s *Server) sessionSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Log a session", "log")
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.renderError(w, r, http.StatusRequestEntityTooLarge, "The form is too large.")
			return
		}
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	v := r.PostForm
	sf := sessionForm{Date: strings.TrimSpace(v.Get("date")), TZ: strings.TrimSpace(v.Get("tz")), Unit: strings.TrimSpace(v.Get("unit")),
		IdempotencyKey: strings.ToLower(strings.TrimSpace(v.Get("idempotency_key")))}
	if !workout.ValidID(sf.IdempotencyKey) {
		sf.IdempotencyKey = uuid.NewString()
	}
	now := s.now()
	errs := workout.FieldErrors{}
	var ws []workout.Workout
	var fps []fingerprint
	for i := range SessionBlocks {
		bv := url.Values{"date": {sf.Date}, "tz": {sf.TZ}, "unit": {sf.Unit}, "idempotency_key": {blockID(sf.IdempotencyKey, i)},
			"exercise": {v.Get(fmt.Sprintf("exercise_%d", i))}, "notes": {v.Get(fmt.Sprintf("notes_%d", i))}}
		empty := strings.TrimSpace(bv.Get("exercise")) == ""
		for j := range FormRows {
			for _, f := range []string{"reps", "weight", "rpe"} {
				x := v.Get(fmt.Sprintf("%s_%d_%d", f, i, j))
				bv.Set(fmt.Sprintf("%s_%d", f, j), x)
				empty = empty && strings.TrimSpace(x) == ""
			}
		}
		if empty {
			continue
		}
		wo, f, ferrs := ParseForm(bv, p.User, now)
		if len(ferrs) == 0 {
			ferrs = customErrors(p.custom, wo)
		}
		sf.Blocks[i] = f
		for k, msg := range ferrs {
			switch k {
			case "date", "unit", "form":
				errs[k] = msg
			default:
				errs[fmt.Sprintf("blocks[%d].%s", i, k)] = msg
			}
		}
		if len(ferrs) == 0 {
			ws = append(ws, wo)
			fps = append(fps, formFingerprint(f))
		}
	}
	if len(ws) == 0 && len(errs) == 0 {
		errs["form"] = "choose an exercise and enter its sets"
	}
	if len(errs) > 0 {
		s.renderSession(w, r, http.StatusUnprocessableEntity, p, sf, errs)
		return
	}
	for k, wo := range ws {
		prev, seen := s.logged.lookup(p.User, wo.ID)
		if seen && prev == fps[k] {
			continue // a retry of a confirmed exercise
		}
		if seen {
			sf.IdempotencyKey = uuid.NewString()
			p.Problem = "This session was already logged with different values (see History). What you typed is kept here as a new session: submit again to log it too."
			s.renderSession(w, r, http.StatusUnprocessableEntity, p, sf, nil)
			return
		}
		if err := s.publish(r.Context(), wo); err != nil {
			s.retryAfter(w)
			p.Problem = fmt.Sprintf("Your session is not fully logged yet: the message queue did not confirm it. Nothing was lost; submit again in %d seconds (nothing is logged twice).",
				int(s.opts.RetryAfter.Seconds()))
			s.renderSession(w, r, http.StatusServiceUnavailable, p, sf, nil)
			return
		}
		s.logged.add(p.User, wo.ID, fps[k])
	}
	rememberUnit(w, r, ws[0].Unit)
	http.Redirect(w, r, "/history?logged="+ws[0].ID, http.StatusSeeOther)
}

// apiSession is a whole session sent at once.
type apiSession struct {
	PerformedAt time.Time    `json:"performed_at"`
	Unit        workout.Unit `json:"unit"`
	Exercises   []struct {
		Exercise string        `json:"exercise"`
		Sets     []workout.Set `json:"sets"`
		Notes    string        `json:"notes,omitempty"`
	} `json:"exercises"`
}

// apiPostSession logs every exercise of a session as one workout each,
// all or none: 202 {"ids": [...]} after the broker confirmed them all.
// The Idempotency-Key (a UUID; one is made when absent) derives the ids.
func (s *Server) apiPostSession(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	if ct := r.Header.Get("Content-Type"); len(ct) < len(jsonType) || !strings.EqualFold(ct[:len(jsonType)], jsonType) {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "send the session as application/json"})
		return
	}
	key := strings.ToLower(strings.TrimSpace(r.Header.Get(IdempotencyKeyHeader)))
	if key == "" {
		key = uuid.NewString()
	} else if !workout.ValidID(key) {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid key", Fields: map[string]string{IdempotencyKeyHeader: "must be a UUID"}})
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, workout.MaxBodyBytes))
	dec.DisallowUnknownFields()
	var in apiSession
	if err := dec.Decode(&in); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: "session body too large"})
			return
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: "the body does not decode as a session: " + strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	fields := map[string]string{}
	switch n := len(in.Exercises); {
	case n == 0:
		fields["exercises"] = "log at least one exercise"
	case n > MaxSessionExercises:
		fields["exercises"] = fmt.Sprintf("at most %d exercises", MaxSessionExercises)
	}
	now := s.now()
	var ws []workout.Workout
	for i, ex := range in.Exercises {
		if i >= MaxSessionExercises {
			break
		}
		wo := workout.Workout{ID: blockID(key, i), UserID: user, Exercise: ex.Exercise, PerformedAt: in.PerformedAt, Unit: in.Unit,
			Sets: ex.Sets, Notes: ex.Notes, LoggedAt: now.UTC().Truncate(time.Millisecond)}
		if err := wo.Validate(now); err != nil {
			var fe workout.FieldErrors
			if errors.As(err, &fe) {
				for k, msg := range fe {
					if k == "performed_at" || k == "unit" {
						fields[k] = msg
						continue
					}
					fields[fmt.Sprintf("exercises[%d].%s", i, k)] = msg
				}
			}
			continue
		}
		ws = append(ws, wo)
	}
	if len(fields) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid session", Fields: fields})
		return
	}
	ids := make([]string, len(ws))
	for i, wo := range ws {
		ids[i] = wo.ID
		fp := workoutFingerprint(wo)
		prev, seen := s.logged.lookup(user, wo.ID)
		switch {
		case seen && prev != fp:
			writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "this " + IdempotencyKeyHeader + " was already used for a different session"})
			return
		case seen:
			continue
		}
		if err := s.publish(r.Context(), wo); err != nil {
			s.retryAfter(w)
			writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "the session was not confirmed by the message queue; retry with the same " + IdempotencyKeyHeader})
			return
		}
		s.logged.add(user, wo.ID, fp)
	}
	w.Header().Set(IdempotencyKeyHeader, key)
	writeJSON(w, http.StatusAccepted, struct {
		IDs []string `json:"ids"`
	}{ids})
}
