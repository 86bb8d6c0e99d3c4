package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

func BenchmarkScratchWebOnly(b *testing.B) {
	s := newStack(b, stackOptions{auth: headerAuth{}, peers: os.Getenv("PEERS") != ""})
	bodies := make([][]byte, benchMessages)
	for i := range bodies {
		w := benchWorkout(i)
		w.ID, w.UserID, w.LoggedAt = "", "", time.Time{}
		data, _ := json.Marshal(w)
		bodies[i] = []byte(strings.NewReplacer(`"id":"",`, "", `"user_id":"",`, "", `,"logged_at":"0001-01-01T00:00:00Z"`, "").Replace(string(data)))
	}
	webPublish(b, s.srv.URL, bodies, benchGoroutines) // warm
	purgeQueue(b)
	f, _ := os.Create("/tmp/webha-web.prof")
	pprof.StartCPUProfile(f)
	var rates []float64
	for range 3 {
		rates = append(rates, webPublish(b, s.srv.URL, bodies, benchGoroutines))
		purgeQueue(b)
	}
	pprof.StopCPUProfile()
	f.Close()
	fmt.Println("web rates", rates)
}
