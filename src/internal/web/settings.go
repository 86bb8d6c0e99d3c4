package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/plan"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Days per week a profile may say.
const (
	MinDaysPerWeek = 2
	MaxDaysPerWeek = 6
)

// startingLifts are the lifts onboarding asks a recent best set of, so that
// an experienced lifter's plan starts at their loads, not at an empty bar.
var startingLifts = []string{"back-squat", "bench-press", "deadlift", "overhead-press", "barbell-row", "pull-up"}

// startingNote marks the workouts onboarding logs.
const startingNote = "Starting point (set up in Settings)"

// profile is the user's settings, zero when there are none or they cannot
// be read in time (the pages then use the history and the browser).
func (s *Server) profile(ctx context.Context, user string) store.Profile {
	if s.opts.Profiles == nil {
		return store.Profile{UserID: user}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	p, err := s.opts.Profiles.Get(ctx, user)
	if err != nil {
		s.logger(ctx).Warn("profile read failed; using the last known", "error", err.Error())
	}
	return p
}

// planProfile is what the plan needs of a profile.
func planProfile(p store.Profile) plan.Profile {
	return plan.Profile{Unit: p.Unit, DaysPerWeek: p.DaysPerWeek, Exercises: p.Known()}
}

type settingsForm struct {
	Unit, TimeZone, DaysPerWeek string
	Lifts                       []startingLift
	// Custom are the user's own exercises; NewName, NewGroup,
	// NewEquipment and NewTimed add one.
	Custom                          []store.CustomExercise
	NewName, NewGroup, NewEquipment string
	NewTimed                        bool
	// New is true while the user has no profile yet: onboarding.
	New bool
}

type startingLift struct {
	Key, Name, Reps, Weight string
	Bodyweight              bool
}

func newSettingsForm(p store.Profile, tz string) settingsForm {
	f := settingsForm{Unit: string(p.Unit), TimeZone: p.TimeZone, New: p.UpdatedAt.IsZero(), Custom: p.Exercises}
	if f.TimeZone == "" {
		f.TimeZone = tz
	}
	if p.DaysPerWeek > 0 {
		f.DaysPerWeek = strconv.Itoa(p.DaysPerWeek)
	}
	for _, k := range startingLifts {
		ex, _ := workout.Lookup(k)
		f.Lifts = append(f.Lifts, startingLift{Key: k, Name: ex.Name, Bodyweight: ex.Bodyweight})
	}
	return f
}

func (s *Server) settingsPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Settings", "settings")
	if s.opts.Profiles == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "Settings are not available on this server.")
		return
	}
	f := newSettingsForm(s.profile(r.Context(), p.User), p.TZ)
	if r.URL.Query().Get("saved") == "1" {
		p.Flash = "Settings saved."
	}
	p.Settings = &f
	s.render(w, r, http.StatusOK, "settings.html", p)
}

// settingsSubmit saves the profile and logs each starting set given as a
// workout of yesterday, through the queue like any other.
func (s *Server) settingsSubmit(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Settings", "settings")
	if s.opts.Profiles == nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "Settings are not available on this server.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	v := r.PostForm
	old := s.profile(r.Context(), p.User)
	f := newSettingsForm(old, "")
	f.Unit, f.TimeZone, f.DaysPerWeek = strings.TrimSpace(v.Get("unit")), strings.TrimSpace(v.Get("time_zone")), strings.TrimSpace(v.Get("days_per_week"))
	errs := workout.FieldErrors{}
	prof := store.Profile{UserID: p.User, Unit: workout.Unit(f.Unit), TimeZone: f.TimeZone}
	if prof.Unit != workout.Kilograms && prof.Unit != workout.Pounds {
		errs["unit"] = "choose kg or lb"
	}
	var loc *time.Location
	if f.TimeZone != "" {
		if loc = location(f.TimeZone); loc == nil {
			errs["time_zone"] = "use a time zone name such as Europe/Berlin"
		}
	}
	if f.DaysPerWeek != "" {
		n, err := strconv.Atoi(f.DaysPerWeek)
		if err != nil || n < MinDaysPerWeek || n > MaxDaysPerWeek {
			errs["days_per_week"] = fmt.Sprintf("choose from %d to %d", MinDaysPerWeek, MaxDaysPerWeek)
		}
		prof.DaysPerWeek = n
	}
	prof.Exercises = old.Exercises
	if c, ferrs := newCustom(&f, v, old.Exercises); len(ferrs) > 0 {
		for k, msg := range ferrs {
			errs[k] = msg
		}
	} else if c != nil {
		prof.Exercises = append(append([]store.CustomExercise(nil), old.Exercises...), *c)
		f.Custom = prof.Exercises
	}
	if loc == nil {
		loc = time.UTC
	}
	now := s.now()
	yesterday := now.In(loc).AddDate(0, 0, -1)
	noon := time.Date(yesterday.Year(), yesterday.Month(), yesterday.Day(), 12, 0, 0, 0, loc).UTC()
	var starts []workout.Workout
	for i := range f.Lifts {
		l := &f.Lifts[i]
		l.Reps, l.Weight = strings.TrimSpace(v.Get("reps_"+l.Key)), strings.TrimSpace(v.Get("weight_"+l.Key))
		if l.Reps == "" && l.Weight == "" {
			continue
		}
		reps, err := strconv.Atoi(l.Reps)
		if err != nil {
			errs["reps_"+l.Key] = "enter a whole number of reps"
			continue
		}
		var weight float64
		if l.Weight != "" {
			if weight, err = parseNumber(l.Weight); err != nil {
				errs["weight_"+l.Key] = "enter a number, e.g. 62.5"
				continue
			}
		}
		wo := workout.Workout{
			// The same starting set sent again is the same workout.
			ID:     uuid.NewSHA1(startingNamespace, []byte(p.User+"\x00"+l.Key+"\x00"+noon.Format(DateLayout))).String(),
			UserID: p.User, Exercise: l.Key, PerformedAt: noon, Unit: prof.Unit,
			Sets: []workout.Set{{Reps: reps, Weight: weight}}, Notes: startingNote, LoggedAt: now.UTC().Truncate(time.Millisecond),
		}
		if err := wo.Validate(now); err != nil {
			if fe, ok := err.(workout.FieldErrors); ok {
				for k, msg := range fe {
					switch {
					case strings.HasSuffix(k, ".reps"):
						errs["reps_"+l.Key] = msg
					case strings.HasSuffix(k, ".weight"):
						errs["weight_"+l.Key] = msg
					case k == "unit":
					default:
						errs["reps_"+l.Key] = k + " " + msg
					}
				}
			}
			continue
		}
		starts = append(starts, wo)
	}
	if len(errs) > 0 {
		p.Settings, p.Errors = &f, errs
		s.render(w, r, http.StatusUnprocessableEntity, "settings.html", p)
		return
	}
	if err := s.opts.Profiles.Save(r.Context(), prof); err != nil {
		s.logger(r.Context()).Error("save profile", "error", err.Error())
		s.retryAfter(w)
		p.Settings = &f
		p.Problem = "Your settings are not saved: the database did not answer. Nothing was logged; submit again in a moment."
		s.render(w, r, http.StatusServiceUnavailable, "settings.html", p)
		return
	}
	rememberUnit(w, r, prof.Unit)
	for _, wo := range starts {
		if err := s.publish(r.Context(), wo); err != nil {
			s.retryAfter(w)
			p.Settings = &f
			p.Problem = "Your settings are saved, but the starting sets are not all logged: the message queue did not confirm them. Submit again: nothing is logged twice."
			s.render(w, r, http.StatusServiceUnavailable, "settings.html", p)
			return
		}
	}
	if f.New {
		http.Redirect(w, r, "/?welcome=1", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/settings?saved=1", http.StatusSeeOther)
}

// newCustom reads the form's new exercise, if one is named: nil without.
func newCustom(f *settingsForm, v url.Values, have []store.CustomExercise) (*store.CustomExercise, workout.FieldErrors) {
	f.NewName = strings.TrimSpace(v.Get("custom_name"))
	f.NewGroup, f.NewEquipment = v.Get("custom_group"), v.Get("custom_equipment")
	f.NewTimed = v.Get("custom_timed") == "on"
	if f.NewName == "" {
		return nil, nil
	}
	fe := workout.FieldErrors{}
	c := store.CustomExercise{Key: workout.CustomKey(f.NewName), Name: f.NewName, Group: workout.MuscleGroup(f.NewGroup),
		Equipment: workout.Equipment(f.NewEquipment), Timed: f.NewTimed}
	switch n := utf8.RuneCountInString(f.NewName); {
	case n > maxCustomName || c.Key == "":
		fe["custom_name"] = fmt.Sprintf("use 1 to %d characters with at least one letter or digit", maxCustomName)
	case len(have) >= MaxCustomExercises:
		fe["custom_name"] = fmt.Sprintf("you have %d exercises of your own, the most there can be", MaxCustomExercises)
	}
	for _, h := range have {
		if h.Key == c.Key {
			fe["custom_name"] = fmt.Sprintf("you already have %q", h.Name)
		}
	}
	if !slices.Contains(plan.Groups(), c.Group) {
		fe["custom_group"] = "choose a muscle group"
	}
	if !slices.Contains(equipmentKinds, c.Equipment) {
		fe["custom_equipment"] = "choose the equipment"
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return &c, nil
}

// equipmentKinds are the equipment choices, in the form's order.
var equipmentKinds = []workout.Equipment{workout.Barbell, workout.Dumbbell, workout.Machine, workout.Cable, workout.BodyWeight}

// startingNamespace derives the ids of starting sets.
var startingNamespace = uuid.MustParse("5b9e1f7a-3c2d-4e8f-a6b1-9d0c7e2f4a13")
