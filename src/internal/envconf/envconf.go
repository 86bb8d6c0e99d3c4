// Package envconf reads service settings from the environment, where every
// setting may instead name a file through the _FILE suffix (AMQP_URL_FILE
// for AMQP_URL), so that secrets are mounted as files and never required in
// the environment.
package envconf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables; os.LookupEnv in production, a map in tests.
type Env func(name string) (string, bool)

// Map is an Env over a map.
func Map(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// String returns name's value, or the content of the file named by
// name_FILE (trailing newlines removed), or def. Setting both is an error.
func (e Env) String(name, def string) (string, error) {
	v, hasValue := e(name)
	path, hasFile := e(name + "_FILE")
	switch {
	case hasValue && hasFile && v != "" && path != "":
		return "", fmt.Errorf("both %s and %s_FILE are set; set one", name, name)
	case hasFile && path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read %s_FILE: %w", name, err)
		}
		return strings.TrimRight(string(data), "\r\n"), nil
	case hasValue && v != "":
		return v, nil
	}
	return def, nil
}

// Int is String parsed as a positive integer.
func (e Env) Int(name string, def int) (int, error) {
	s, err := e.String(name, "")
	if err != nil || s == "" {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, s)
	}
	return n, nil
}

// Duration is String parsed by time.ParseDuration (e.g. "20ms").
func (e Env) Duration(name string, def time.Duration) (time.Duration, error) {
	s, err := e.String(name, "")
	if err != nil || s == "" {
		return def, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 20ms", name, s)
	}
	return d, nil
}

// Settings reads several settings and keeps every error, so that a service
// that is misconfigured says everything that is wrong at once.
type Settings struct {
	env  Env
	errs []error
}

// Settings starts reading settings from e.
func (e Env) Settings() *Settings { return &Settings{env: e} }

// String is Env.String, its error kept.
func (s *Settings) String(name, def string) string {
	v, err := s.env.String(name, def)
	s.Fail(err)
	return v
}

// Int is Env.Int, its error kept.
func (s *Settings) Int(name string, def int) int {
	v, err := s.env.Int(name, def)
	s.Fail(err)
	return v
}

// Duration is Env.Duration, its error kept.
func (s *Settings) Duration(name string, def time.Duration) time.Duration {
	v, err := s.env.Duration(name, def)
	s.Fail(err)
	return v
}

// Fail records a problem found by the caller (nil is ignored).
func (s *Settings) Fail(err error) {
	if err != nil {
		s.errs = append(s.errs, err)
	}
}

// Err is every problem recorded, joined, or nil.
func (s *Settings) Err() error { return errors.Join(s.errs...) }
