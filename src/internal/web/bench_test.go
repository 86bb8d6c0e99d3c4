package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkPostHandler is the CPU cost of one POST /api/v1/workouts in the
// handler chain (middleware, decode, validate, publish to a fake that
// confirms at once, answer), without the network.
func BenchmarkPostHandler(b *testing.B) {
	e := newEnv(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/workouts", strings.NewReader(validBody))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
