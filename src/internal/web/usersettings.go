package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Cookies that carry what the browser knows about its user: the time zone
// (set by static/tz.js from Intl) and the unit of the last form logged.
// Neither is a secret; both only choose defaults.
const (
	tzCookie   = "tz"
	unitCookie = "unit"
)

// location parses an IANA time zone name from the browser; nil when it is
// missing or not one this server knows.
func location(name string) *time.Location {
	// Only names such as "America/New_York" or "UTC": never "Local" (the
	// server's zone) nor a path.
	if name == "" || len(name) > 64 || name == "Local" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("/_+-", c)) {
			return nil
		}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// userLocation is the user's time zone from the request's tz cookie, nil
// when the browser has not said.
func userLocation(r *http.Request) *time.Location {
	c, err := r.Cookie(tzCookie)
	if err != nil {
		return nil
	}
	name, err := url.PathUnescape(c.Value) // the script encodes the "/"
	if err != nil {
		return nil
	}
	return location(name)
}

// zone is the user's time zone: the one set in their settings, else the
// browser's; nil when neither is known.
func (s *Server) zone(r *http.Request) *time.Location {
	if s.opts.Profiles != nil {
		if loc := location(s.profile(r.Context(), identity(r).UserID).TimeZone); loc != nil {
			return loc
		}
	}
	return userLocation(r)
}

// userNow is the current time in the user's zone when known; UTC
// otherwise (the plan then says which day it is for).
func (s *Server) userNow(r *http.Request) time.Time {
	if loc := s.zone(r); loc != nil {
		return s.now().In(loc)
	}
	return s.now().UTC()
}

// cookieUnit is the unit of the last form the user logged, "" if none.
func cookieUnit(r *http.Request) workout.Unit {
	if c, err := r.Cookie(unitCookie); err == nil {
		if u := workout.Unit(c.Value); u == workout.Kilograms || u == workout.Pounds {
			return u
		}
	}
	return ""
}

// rememberUnit keeps the unit a form was logged in for the next form.
func rememberUnit(w http.ResponseWriter, r *http.Request, u workout.Unit) {
	http.SetCookie(w, &http.Cookie{
		Name: unitCookie, Value: string(u), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https",
	})
}
