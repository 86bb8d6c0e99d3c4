package envconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "url")
	if err := os.WriteFile(secret, []byte("amqps://user:pw@broker:5671/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr bool
	}{
		{name: "default", env: nil, want: "def"},
		{name: "value", env: map[string]string{"AMQP_URL": "amqp://x/"}, want: "amqp://x/"},
		{name: "file wins over empty value", env: map[string]string{"AMQP_URL": "", "AMQP_URL_FILE": secret}, want: "amqps://user:pw@broker:5671/"},
		{name: "file", env: map[string]string{"AMQP_URL_FILE": secret}, want: "amqps://user:pw@broker:5671/"},
		{name: "both set", env: map[string]string{"AMQP_URL": "a", "AMQP_URL_FILE": secret}, wantErr: true},
		{name: "missing file", env: map[string]string{"AMQP_URL_FILE": filepath.Join(dir, "nope")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Map(tt.env).String("AMQP_URL", "def")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIntAndDuration(t *testing.T) {
	env := Map(map[string]string{"PREFETCH": "300", "BAD": "-1", "WAIT": "25ms", "NOTDUR": "soon"})
	if n, err := env.Int("PREFETCH", 1); err != nil || n != 300 {
		t.Errorf("Int(PREFETCH) = %d, %v", n, err)
	}
	if n, err := env.Int("UNSET", 7); err != nil || n != 7 {
		t.Errorf("Int(UNSET) = %d, %v", n, err)
	}
	if _, err := env.Int("BAD", 1); err == nil {
		t.Error("Int(BAD) accepted a negative number")
	}
	if d, err := env.Duration("WAIT", time.Second); err != nil || d != 25*time.Millisecond {
		t.Errorf("Duration(WAIT) = %v, %v", d, err)
	}
	if _, err := env.Duration("NOTDUR", time.Second); err == nil {
		t.Error("Duration(NOTDUR) accepted garbage")
	}
}

func TestSettingsReportsEveryProblem(t *testing.T) {
	s := Map(map[string]string{
		"PREFETCH":   "-1",
		"BATCH_WAIT": "soon",
		"NAME":       "web",
	}).Settings()
	if got := s.String("NAME", "x"); got != "web" {
		t.Errorf("NAME = %q", got)
	}
	s.Int("PREFETCH", 5)
	s.Duration("BATCH_WAIT", 0)
	s.Fail(nil)
	err := s.Err()
	if err == nil {
		t.Fatal("no error for two bad settings")
	}
	for _, want := range []string{"PREFETCH", "BATCH_WAIT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if Map(nil).Settings().Err() != nil {
		t.Error("error without any problem")
	}
}
