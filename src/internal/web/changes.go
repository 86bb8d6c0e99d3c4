package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// UndoWindow is how long after a delete the workout can be restored.
const UndoWindow = 15 * time.Minute

// Edits, deletes and undos are new versions of a workout (workout.Version)
// sent through the same confirmed queue as a new workout: the consumer
// keeps the highest version, so they may arrive in any order and be
// replayed. The version is taken from this replica's view of the workout;
// a change made elsewhere that this replica has not read yet is older than
// this one's clock anyway, so the later change wins.

// errNoWorkout: the user has no live (or, for undo, deleted) workout with
// the id.
var errNoWorkout = errors.New("no workout of yours has this id")

// errHistoryUnknown: the history was never read, so the workout cannot be
// found yet.
var errHistoryUnknown = errors.New("your history could not be read yet; retry later")

// current finds the user's workout id, among the deleted ones when deleted
// is set.
func (s *Server) current(ctx context.Context, user, id string, deleted bool) (workout.Workout, bool, error) {
	h := s.history(ctx, user, HistoryQuery{Deleted: deleted})
	for _, w := range h.Workouts {
		if w.ID == id {
			return w, h.Stale, nil
		}
	}
	if h.Unknown() {
		return workout.Workout{}, true, errHistoryUnknown
	}
	return workout.Workout{}, h.Stale, errNoWorkout
}

// change publishes the new version c of a workout, confirmed.
func (s *Server) change(ctx context.Context, c workout.Workout) error {
	if err := c.Validate(s.now()); err != nil {
		return err
	}
	return s.publish(ctx, c)
}

// edited is w with the user's new content; id, user and logged time stay.
func edited(old, w workout.Workout, now time.Time) workout.Workout {
	w.ID, w.UserID, w.LoggedAt = old.ID, old.UserID, old.LoggedAt
	w.Version, w.Deleted = old.NextVersion(now), false
	return w
}

// deletion is the delete of w: its content with the deleted mark.
func deletion(w workout.Workout, now time.Time) workout.Workout {
	w.Version, w.Deleted = w.NextVersion(now), true
	return w
}

// undoable reports whether the deleted workout d can still be restored.
func undoable(d workout.Workout, now time.Time) bool {
	return now.Sub(d.ChangedAt()) <= UndoWindow
}

type apiChange struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	// UndoUntil is the end of a delete's undo window.
	UndoUntil *time.Time `json:"undo_until,omitempty"`
}

func (s *Server) answerChange(w http.ResponseWriter, c workout.Workout) {
	out := apiChange{ID: c.ID, Version: c.Version}
	if c.Deleted {
		until := c.ChangedAt().Add(UndoWindow)
		out.UndoUntil = &until
	}
	w.Header().Set("Location", "/api/v1/workouts/"+c.ID)
	writeJSON(w, http.StatusAccepted, out)
}

// apiLookupError answers a failed lookup of a workout to change.
func (s *Server) apiLookupError(w http.ResponseWriter, err error) {
	if errors.Is(err, errHistoryUnknown) {
		s.retryAfter(w)
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusNotFound, apiError{Error: err.Error()})
}

func (s *Server) apiPublishError(w http.ResponseWriter, err error) {
	var fe workout.FieldErrors
	if errors.As(err, &fe) {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid workout", Fields: fe})
		return
	}
	s.retryAfter(w)
	writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "the change was not confirmed by the message queue; retry"})
}

// pathID is the {id} of the route, or "" when it is not a workout id.
func pathID(r *http.Request) string {
	id := mux.Vars(r)["id"]
	if !workout.ValidID(id) {
		return ""
	}
	return id
}

// apiPathID is the path's workout id, or false after a 400 naming it.
func apiPathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := pathID(r)
	if id == "" {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid workout id", Fields: map[string]string{"id": "must be a lower-case UUID"}})
		return "", false
	}
	return id, true
}

// ifMatch checks an optional If-Match header against the workout's
// version, so that a client editing what it read does not overwrite a
// change it has not seen. Versions are quoted or bare integers.
func ifMatch(r *http.Request, cur workout.Workout) (ok bool, given bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return true, v != ""
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	return err == nil && n == cur.Version, true
}

// apiPutWorkout replaces a workout's content: the body is a workout as
// for POST (its id, when given, must be the path's).
func (s *Server) apiPutWorkout(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	id, ok := apiPathID(w, r)
	if !ok {
		return
	}
	body, ok := decodeWorkoutBody(w, r)
	if !ok {
		return
	}
	if body.ID != "" && body.ID != id {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid workout id", Fields: map[string]string{"id": "differs from the path's id"}})
		return
	}
	if body.UserID != "" && body.UserID != user {
		writeJSON(w, http.StatusForbidden, apiError{Error: "user_id must be omitted or be your own"})
		return
	}
	cur, _, err := s.current(r.Context(), user, id, false)
	if err != nil {
		s.apiLookupError(w, err)
		return
	}
	s.commitChange(w, r, cur, edited(cur, body, s.now()))
}

// apiDeleteWorkout deletes a workout; a retry answers as the first did.
func (s *Server) apiDeleteWorkout(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	id, ok := apiPathID(w, r)
	if !ok {
		return
	}
	cur, _, err := s.current(r.Context(), user, id, false)
	if errors.Is(err, errNoWorkout) {
		if d, _, derr := s.current(r.Context(), user, id, true); derr == nil {
			s.answerChange(w, d)
			return
		}
	}
	if err != nil {
		s.apiLookupError(w, err)
		return
	}
	s.commitChange(w, r, cur, deletion(cur, s.now()))
}

// commitChange answers 412 when the request's If-Match names another
// version than cur's; else it publishes c, the change made to cur, and
// answers with it.
func (s *Server) commitChange(w http.ResponseWriter, r *http.Request, cur, c workout.Workout) {
	if ok, _ := ifMatch(r, cur); !ok {
		writeJSON(w, http.StatusPreconditionFailed, apiError{Error: fmt.Sprintf("the workout changed: its version is %d", cur.Version)})
		return
	}
	if err := s.change(r.Context(), c); err != nil {
		s.apiPublishError(w, err)
		return
	}
	s.answerChange(w, c)
}

// apiUndoDelete restores a workout deleted less than UndoWindow ago; a
// retry (the workout is live) answers with its version.
func (s *Server) apiUndoDelete(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	id, ok := apiPathID(w, r)
	if !ok {
		return
	}
	c, status, msg := s.restore(r.Context(), user, id)
	switch status {
	case http.StatusAccepted:
		s.answerChange(w, c)
	case http.StatusServiceUnavailable:
		s.retryAfter(w)
		fallthrough
	default:
		writeJSON(w, status, apiError{Error: msg})
	}
}

// restore publishes the undo of a delete; it answers the HTTP status and,
// unless accepted, why.
func (s *Server) restore(ctx context.Context, user, id string) (workout.Workout, int, string) {
	d, _, err := s.current(ctx, user, id, true)
	if errors.Is(err, errNoWorkout) {
		if live, _, lerr := s.current(ctx, user, id, false); lerr == nil {
			return live, http.StatusAccepted, ""
		}
		return workout.Workout{}, http.StatusNotFound, "no deleted workout of yours has this id"
	}
	if err != nil {
		return workout.Workout{}, http.StatusServiceUnavailable, err.Error()
	}
	now := s.now()
	if !undoable(d, now) {
		return workout.Workout{}, http.StatusConflict, fmt.Sprintf("the workout was deleted more than %d minutes ago: it can no longer be restored", int(UndoWindow.Minutes()))
	}
	c := d
	c.Version, c.Deleted = d.NextVersion(now), false
	if err := s.change(ctx, c); err != nil {
		var fe workout.FieldErrors
		if errors.As(err, &fe) {
			return workout.Workout{}, http.StatusUnprocessableEntity, err.Error()
		}
		return workout.Workout{}, http.StatusServiceUnavailable, "the undo was not confirmed by the message queue; retry"
	}
	return c, http.StatusAccepted, ""
}
