package rabbitdefs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExport(t *testing.T) {
	const defs = `{"rabbit_version":"4.3.5","users":[{"name":"fitness"}],"vhosts":[{"name":"/"}],"queues":[{"name":"workouts","vhost":"/","durable":true,"arguments":{"x-queue-type":"quorum"}}]}`
	tests := []struct {
		name, user, body string
		status           int
		wantErr          string
	}{
		{name: "definitions", user: "backup", body: defs, status: 200},
		{name: "wrong password", user: "intruder", body: `{"error":"not_authorized","reason":"Login failed"}`, status: 401, wantErr: "401 Unauthorized: {\"error\":\"not_authorized\""},
		{name: "not definitions", user: "backup", body: `{"management_version":"4.3.5"}`, status: 200, wantErr: "not a definitions document"},
		{name: "not json", user: "backup", body: `<html>`, status: 200, wantErr: "not a definitions document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				user, pass, ok := r.BasicAuth()
				if r.URL.Path != "/api/definitions" || !ok || user != "backup" || pass != "s3cret" {
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(tt.body))
					return
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			got, err := Export(context.Background(), srv.Client(), srv.URL+"/", tt.user, "s3cret")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != defs {
				t.Fatalf("got %s, %v", got, err)
			}
		})
	}
	// An untrusted server certificate is refused.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	if _, err := Export(context.Background(), &http.Client{}, srv.URL, "backup", "s3cret"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: %v, want a certificate error", err)
	}
}
