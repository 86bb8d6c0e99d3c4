package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// IdempotencyKeyHeader names a client-chosen workout id (a UUID): a retry
// with the same key is the same workout.
const IdempotencyKeyHeader = "Idempotency-Key"

// maxAPILimit bounds GET /api/v1/workouts.
const maxAPILimit = 500

type apiError struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

type apiPrescription struct {
	Exercise string       `json:"exercise"`
	Name     string       `json:"name"`
	Group    string       `json:"group"`
	Kind     plan.Kind    `json:"kind"`
	Sets     int          `json:"sets"`
	Reps     int          `json:"reps"`
	Weight   float64      `json:"weight"`
	Unit     workout.Unit `json:"unit"`
	E1RM     float64      `json:"e1rm,omitempty"`
	Reason   string       `json:"reason"`
}

type apiGroup struct {
	Group       string  `json:"group"`
	Planned     bool    `json:"planned"`
	LastTrained string  `json:"last_trained,omitempty"`
	WeekSets    int     `json:"week_sets"`
	TargetSets  int     `json:"target_sets"`
	WeekVolume  float64 `json:"week_volume"`
	Reason      string  `json:"reason"`
}

type apiPlan struct {
	Date          string            `json:"date"`
	Unit          workout.Unit      `json:"unit"`
	Stale         bool              `json:"stale"`
	AsOf          *time.Time        `json:"as_of,omitempty"`
	Prescriptions []apiPrescription `json:"prescriptions"`
	Groups        []apiGroup        `json:"groups"`
	Notes         []string          `json:"notes"`
}

type apiWorkouts struct {
	Workouts []workout.Workout `json:"workouts"`
	Stale    bool              `json:"stale"`
	AsOf     *time.Time        `json:"as_of,omitempty"`
	Pending  []string          `json:"pending,omitempty"`
}

const jsonType = "application/json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", jsonType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func asOf(h History) *time.Time {
	if h.AsOf.IsZero() {
		return nil
	}
	t := h.AsOf.UTC()
	return &t
}

func (s *Server) apiPlan(w http.ResponseWriter, r *http.Request) {
	id := identity(r)
	today := s.userNow(r)
	if name := r.URL.Query().Get("tz"); name != "" {
		loc := location(name)
		if loc == nil {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid query", Fields: map[string]string{"tz": "must be an IANA time zone such as Europe/Berlin"}})
			return
		}
		today = s.now().In(loc)
	}
	h := s.history(r.Context(), id.UserID, HistoryQuery{})
	if h.Unknown() {
		s.retryAfter(w)
		w.Header().Set(StaleHeader, "true")
		writeJSON(w, http.StatusServiceUnavailable, apiError{
			Error: "the plan is unavailable: your history could not be read yet; retry later",
		})
		return
	}
	p := plan.BuildFor(h.Workouts, today, planProfile(s.profile(r.Context(), id.UserID)))
	out := apiPlan{Date: p.Date.Format(DateLayout), Unit: p.Unit, Stale: h.Stale, AsOf: asOf(h),
		Prescriptions: []apiPrescription{}, Groups: []apiGroup{}, Notes: p.Notes}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for _, pr := range p.Prescriptions {
		out.Prescriptions = append(out.Prescriptions, apiPrescription{
			Exercise: pr.Exercise.Key, Name: pr.Exercise.Name, Group: string(pr.Exercise.Group), Kind: pr.Kind,
			Sets: pr.Sets, Reps: pr.Reps, Weight: pr.Weight, Unit: pr.Unit, E1RM: pr.E1RM, Reason: pr.Reason,
		})
	}
	for _, g := range p.Groups {
		ag := apiGroup{Group: string(g.Group), Planned: g.Planned, WeekSets: g.WeekSets, TargetSets: g.TargetSets,
			WeekVolume: g.WeekVolume, Reason: g.Reason}
		if !g.LastTrained.IsZero() {
			ag.LastTrained = g.LastTrained.Format(DateLayout)
		}
		out.Groups = append(out.Groups, ag)
	}
	if h.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	writeJSON(w, http.StatusOK, out)
}

// listParams are the query parameters GET /api/v1/workouts understands;
// any other is refused rather than silently ignored.
var listParams = map[string]bool{"exercise": true, "from": true, "to": true, "limit": true}

func (s *Server) apiListWorkouts(w http.ResponseWriter, r *http.Request) {
	id := identity(r)
	q, hv := parseHistoryQuery(r)
	for name := range r.URL.Query() {
		if !listParams[name] {
			hv.Errors[name] = "unknown parameter (one workout is GET /api/v1/workouts/{id})"
		}
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxAPILimit {
			hv.Errors["limit"] = "must be a whole number from 1 to 500"
		}
		q.Limit = n
	} else {
		q.Limit = historyPageLimit
	}
	if len(hv.Errors) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid query", Fields: hv.Errors})
		return
	}
	h := s.history(r.Context(), id.UserID, q)
	out := apiWorkouts{Workouts: h.Workouts, Stale: h.Stale, AsOf: asOf(h)}
	if out.Workouts == nil {
		out.Workouts = []workout.Workout{}
	}
	for _, w := range out.Workouts {
		if h.Pending[w.ID] {
			out.Pending = append(out.Pending, w.ID)
		}
	}
	if h.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	writeJSON(w, http.StatusOK, out)
}

// apiPostWorkout validates a workout, publishes it and answers 202 with
// its id only after the broker's confirm; 503 with Retry-After otherwise.
func (s *Server) apiPostWorkout(w http.ResponseWriter, r *http.Request) {
	id := identity(r)
	wo, ok := decodeWorkoutBody(w, r)
	if !ok {
		return
	}
	wid, fields := workoutID(wo.ID, r.Header.Get(IdempotencyKeyHeader))
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid workout id", Fields: fields})
		return
	}
	if wo.UserID != "" && wo.UserID != id.UserID {
		writeJSON(w, http.StatusForbidden, apiError{Error: "user_id must be omitted or be your own"})
		return
	}
	now := s.now()
	wo.ID, wo.UserID, wo.LoggedAt = wid, id.UserID, now.UTC().Truncate(time.Millisecond)
	if err := wo.Validate(now); err != nil {
		var fe workout.FieldErrors
		if errors.As(err, &fe) {
			writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid workout", Fields: fe})
			return
		}
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: err.Error()})
		return
	}
	fp := workoutFingerprint(wo)
	prev, seen := s.logged.lookup(id.UserID, wo.ID)
	switch {
	case seen && prev != fp:
		writeJSON(w, http.StatusUnprocessableEntity, apiError{
			Error: "this " + IdempotencyKeyHeader + " (workout id) was already used for a different workout; use a new key for a new workout",
		})
		return
	case !seen:
		if err := s.publish(r.Context(), wo); err != nil {
			s.retryAfter(w)
			writeJSON(w, http.StatusServiceUnavailable, apiError{
				Error: "the workout was not confirmed by the message queue; retry with the same id",
			})
			return
		}
		s.logged.add(id.UserID, wo.ID, fp)
	}
	// A retry of a confirmed workout is answered as the first was.
	h := w.Header()
	h.Set("Location", "/api/v1/workouts/"+wo.ID)
	h.Set("Content-Type", jsonType)
	w.WriteHeader(http.StatusAccepted)
	// The id is a validated UUID (hex digits and dashes): nothing in it
	// needs escaping, so the answer is written without an encoder.
	_, _ = w.Write([]byte(`{"id":"` + wo.ID + "\"}\n"))
}

type apiWorkout struct {
	Workout workout.Workout `json:"workout"`
	Stale   bool            `json:"stale"`
	AsOf    *time.Time      `json:"as_of,omitempty"`
}

// apiGetWorkout answers one of the user's workouts by id: the resource a
// 202's Location names. A workout confirmed on another replica shows once
// the consumer stored it and this replica read it.
func (s *Server) apiGetWorkout(w http.ResponseWriter, r *http.Request) {
	user := identity(r).UserID
	wid, ok := apiPathID(w, r)
	if !ok {
		return
	}
	h := s.history(r.Context(), user, HistoryQuery{})
	if h.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	for _, wo := range h.Workouts {
		if wo.ID == wid {
			writeJSON(w, http.StatusOK, apiWorkout{Workout: wo, Stale: h.Stale, AsOf: asOf(h)})
			return
		}
	}
	if h.Unknown() {
		s.retryAfter(w)
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "your history could not be read yet; retry later"})
		return
	}
	writeJSON(w, http.StatusNotFound, apiError{Error: "no workout of yours has this id"})
}

// workoutID picks the workout id from the body's id and the
// Idempotency-Key header; a fresh UUID when neither is given.
func workoutID(body, header string) (string, map[string]string) {
	body, header = strings.TrimSpace(body), strings.ToLower(strings.TrimSpace(header))
	fields := map[string]string{}
	if header != "" && !workout.ValidID(header) {
		fields["Idempotency-Key"] = "must be a UUID"
	}
	if body != "" && !workout.ValidID(body) {
		fields["id"] = "must be a lower-case UUID"
	}
	if len(fields) == 0 && body != "" && header != "" && body != header {
		fields["id"] = "differs from the Idempotency-Key header"
	}
	switch {
	case len(fields) > 0:
		return "", fields
	case body != "":
		return body, nil
	case header != "":
		return header, nil
	default:
		return uuid.NewString(), nil
	}
}

func (s *Server) apiSpec(w http.ResponseWriter, r *http.Request) {
	spec, err := assets.ReadFile("openapi.yaml")
	if err != nil {
		s.renderError(w, r, http.StatusInternalServerError, "specification missing")
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(spec)
}

// decodeWorkoutBody reads a JSON workout body, or answers why it cannot
// (415, 413 or 400 with the fields) and returns false.
func decodeWorkoutBody(w http.ResponseWriter, r *http.Request) (workout.Workout, bool) {
	if ct := r.Header.Get("Content-Type"); len(ct) < len(jsonType) || !strings.EqualFold(ct[:len(jsonType)], jsonType) {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "send the workout as application/json"})
		return workout.Workout{}, false
	}
	wo, err := workout.Decode(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		var fe workout.FieldErrors
		switch {
		case errors.Is(err, workout.ErrTooLarge) || errors.As(err, &tooLarge):
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: "workout body too large"})
		case errors.As(err, &fe):
			writeJSON(w, http.StatusBadRequest, apiError{Error: "the body does not decode as a workout", Fields: fe})
		default:
			writeJSON(w, http.StatusBadRequest, apiError{Error: err.Error()})
		}
		return workout.Workout{}, false
	}
	return wo, true
}
