//go:build tools

// Package promtool pins the promtool command's module; the Makefile builds
// github.com/prometheus/prometheus/cmd/promtool from this module.
package promtool

import _ "github.com/prometheus/prometheus/cmd/promtool"
