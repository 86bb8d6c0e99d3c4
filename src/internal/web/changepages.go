package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// formOf is the log form showing w, dated in loc (UTC when nil).
func formOf(w workout.Workout, loc *time.Location) Form {
	if loc == nil {
		loc = time.UTC
	}
	f := Form{Exercise: w.Exercise, Date: w.PerformedAt.In(loc).Format(DateLayout), TZ: loc.String(),
		Unit: string(w.Unit), Notes: w.Notes, IdempotencyKey: w.ID}
	for i, s := range w.Sets {
		if i == FormRows {
			break
		}
		f.Rows[i] = FormRow{Reps: fmt.Sprint(s.Reps), Weight: trimFloat(s.Weight)}
		if s.RPE != 0 {
			f.Rows[i].RPE = trimFloat(s.RPE)
		}
	}
	return f
}

// editable finds the workout a page changes, or renders why it cannot.
func (s *Server) editable(w http.ResponseWriter, r *http.Request, p *page) (workout.Workout, bool) {
	id := pathID(r)
	if id == "" {
		s.renderError(w, r, http.StatusNotFound, "There is no such workout.")
		return workout.Workout{}, false
	}
	cur, stale, err := s.current(r.Context(), p.User, id, false)
	p.Stale = stale
	switch {
	case errors.Is(err, errHistoryUnknown):
		s.retryAfter(w)
		s.renderError(w, r, http.StatusServiceUnavailable, "Your history could not be read yet: the database is slow or not answering. Try again in a moment.")
		return workout.Workout{}, false
	case err != nil:
		s.renderError(w, r, http.StatusNotFound, "There is no such workout: it may have been deleted.")
		return workout.Workout{}, false
	case len(cur.Sets) > FormRows:
		s.renderError(w, r, http.StatusUnprocessableEntity,
			fmt.Sprintf("This workout has %d sets; the form shows %d. Edit it through the API (PUT /api/v1/workouts/%s).", len(cur.Sets), FormRows, cur.ID))
		return workout.Workout{}, false
	}
	return cur, true
}

func (s *Server) editForm(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Edit workout", "history")
	cur, ok := s.editable(w, r, &p)
	if !ok {
		return
	}
	p.EditOf = cur.ID
	s.renderForm(w, r, http.StatusOK, p, formOf(cur, p.loc), nil)
}

func (s *Server) editSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Edit workout", "history")
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	cur, ok := s.editable(w, r, &p)
	if !ok {
		return
	}
	p.EditOf = cur.ID
	form := r.PostForm
	form.Set("idempotency_key", cur.ID)
	now := s.now()
	wo, f, errs := ParseForm(form, p.User, now)
	if len(errs) == 0 {
		errs = customErrors(p.custom, wo)
	}
	if len(errs) > 0 {
		s.renderForm(w, r, http.StatusUnprocessableEntity, p, f, errs)
		return
	}
	// The form has days, not times: an unchanged day keeps the time.
	if loc := location(f.TZ); loc != nil && cur.PerformedAt.In(loc).Format(DateLayout) == f.Date ||
		loc == nil && cur.PerformedAt.UTC().Format(DateLayout) == f.Date {
		wo.PerformedAt = cur.PerformedAt
	}
	c := edited(cur, wo, now)
	if err := s.change(r.Context(), c); err != nil {
		s.retryAfter(w)
		p.Problem = "Your change is not saved yet: the message queue did not confirm it. Nothing was lost; submit again."
		s.renderForm(w, r, http.StatusServiceUnavailable, p, f, nil)
		return
	}
	http.Redirect(w, r, "/history?edited="+c.ID, http.StatusSeeOther)
}

func (s *Server) deleteSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Delete workout", "history")
	id := pathID(r)
	if id != "" {
		// A second click (or a resent form) finds it deleted already.
		if _, _, err := s.current(r.Context(), p.User, id, true); err == nil {
			http.Redirect(w, r, "/history?deleted="+id, http.StatusSeeOther)
			return
		}
	}
	cur, ok := s.editable(w, r, &p)
	if !ok {
		return
	}
	if err := s.change(r.Context(), deletion(cur, s.now())); err != nil {
		s.retryAfter(w)
		s.renderError(w, r, http.StatusServiceUnavailable, "The workout is not deleted: the message queue did not confirm it. Try again.")
		return
	}
	http.Redirect(w, r, "/history?deleted="+cur.ID, http.StatusSeeOther)
}

func (s *Server) undoSubmit(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	id := pathID(r)
	if id == "" {
		s.renderError(w, r, http.StatusNotFound, "There is no such workout.")
		return
	}
	_, status, msg := s.restore(r.Context(), user, id)
	switch status {
	case http.StatusAccepted:
		http.Redirect(w, r, "/history?restored="+id, http.StatusSeeOther)
	case http.StatusServiceUnavailable:
		s.retryAfter(w)
		fallthrough
	default:
		s.renderError(w, r, status, "The workout could not be restored: "+msg+".")
	}
}
