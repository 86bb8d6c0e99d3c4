package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/web"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// BenchmarkEditDelete sends edits (PUT) and then deletes (DELETE) of
// stored workouts at a fixed rate, open loop, spread over 200 users with
// 20 workouts each, and prints p50/p99 of each path: a history lookup, a
// confirmed publish and the view's update.
func BenchmarkEditDelete(b *testing.B) {
	const users, each, rate, seconds = 200, 20, 200, 5
	s := newStack(b, stackOptions{auth: headerAuth{}})
	purgeQueue(b)
	defer purgeQueue(b)
	ctx := context.Background()
	at := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Millisecond)
	ids := make([][]string, users)
	var docs []any
	for u := range users {
		for range each {
			w := workout.Workout{ID: uuid.NewString(), UserID: fmt.Sprintf("user-%d@example.com", u), Exercise: "deadlift",
				PerformedAt: at, Unit: workout.Kilograms, Sets: []workout.Set{{Reps: 5, Weight: 140}}, LoggedAt: at}
			ids[u] = append(ids[u], w.ID)
			docs = append(docs, w)
		}
	}
	if _, err := s.db.Collection(store.Collection).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
		b.Fatal(err)
	}
	// Warmed together: the reader reads up to 100 users in one load.
	var warm sync.WaitGroup
	for u := range users {
		warm.Go(func() {
			if err := s.reader.Warm(ctx, fmt.Sprintf("user-%d@example.com", u)); err != nil {
				b.Error(err)
			}
		})
	}
	warm.Wait()
	edit := []byte(fmt.Sprintf(`{"exercise":"deadlift","performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":142.5}]}`, at.Format(time.RFC3339Nano)))
	run := func(method string, body []byte) []time.Duration {
		n := rate * seconds
		lat := make([]time.Duration, n)
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			when := start.Add(time.Duration(i) * time.Second / rate)
			time.Sleep(time.Until(when))
			u, k := i%users, (i/users)%each
			wg.Go(func() {
				req, _ := http.NewRequest(method, s.srv.URL+"/api/v1/workouts/"+ids[u][k], bytes.NewReader(body))
				req.Header.Set(userHeader, fmt.Sprintf("user-%d@example.com", u))
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				res, err := s.client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if err != nil || res.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				lat[i] = time.Since(when)
			})
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%s: %d of %d not accepted", method, failed.Load(), n)
		}
		return lat
	}
	for _, c := range []struct {
		method string
		body   []byte
	}{{http.MethodPut, edit}, {http.MethodDelete, nil}} {
		lat := run(c.method, c.body)
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		fmt.Printf("%-6s /api/v1/workouts/{id} at %d req/s for %d s: p50 %s, p90 %s, p99 %s, max %s\n",
			c.method, rate, seconds, ms(p50), ms(percentile(lat, 90)), ms(p99), ms(slices.Max(lat)))
		b.ReportMetric(float64(p99.Microseconds())/1000, strings.ToLower(c.method)+"-p99-ms")
	}
}

// BenchmarkImport10k imports a 10,000-row Strong export (2,500 workouts of
// 4 sets) through the API with a consumer running, and prints the import's
// time and rate (bounded by web.ImportRate) and the time until every
// workout is stored.
func BenchmarkImport10k(b *testing.B) {
	const rows, setsPer = 10_000, 4
	s := newStack(b, stackOptions{consumer: true, auth: headerAuth{}})
	var csv strings.Builder
	csv.WriteString("Date,Workout Name,Exercise Name,Set Order,Weight,Reps,Seconds,Notes,Workout Notes,RPE\n")
	day := time.Now().AddDate(-9, 0, 0)
	names := []string{"Squat (Barbell)", "Bench Press (Barbell)", "Deadlift (Barbell)", "Bent Over Row (Barbell)", "Overhead Press (Barbell)"}
	for i := 0; i < rows/setsPer; i++ {
		d := day.Add(time.Duration(i) * 26 * time.Hour).Format("2006-01-02 15:04:05")
		for set := 1; set <= setsPer; set++ {
			fmt.Fprintf(&csv, "%s,Workout,%s,%d,%d,5,0,,,\n", d, names[i%len(names)], set, 60+i%40)
		}
	}
	start := time.Now()
	st, data := sendB(b, s, "importer@example.com", "/api/v1/import?unit=kg&tz=Europe/Berlin", "text/csv", []byte(csv.String()))
	took := time.Since(start)
	var rep struct {
		Workouts, Imported int
		Rejected           []json.RawMessage
	}
	if err := json.Unmarshal(data, &rep); err != nil || st != http.StatusOK || rep.Imported != rows/setsPer || len(rep.Rejected) != 0 {
		b.Fatalf("import: %d %.300s", st, data)
	}
	want := int64(rows / setsPer)
	for {
		n, err := s.db.Collection(store.Collection).CountDocuments(context.Background(), bson.D{{Key: "user_id", Value: "importer@example.com"}})
		if err == nil && n == want {
			break
		}
		if time.Since(start) > 3*time.Minute {
			b.Fatalf("%d of %d imported workouts stored after 3 minutes (%v)", n, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stored := time.Since(start)
	fmt.Printf("import of %d rows (%d workouts): answered in %s (%.0f rows/s, %.0f workouts/s; the bound is %d workouts/s), all stored after %s\n",
		rows, rep.Workouts, took.Round(time.Millisecond), float64(rows)/took.Seconds(), float64(rep.Workouts)/took.Seconds(), web.ImportRate, stored.Round(time.Millisecond))
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
}

func sendB(b *testing.B, s *stack, user, path, ctype string, body []byte) (int, []byte) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set(userHeader, user)
	req.Header.Set("Content-Type", ctype)
	client := &http.Client{Timeout: 3 * time.Minute}
	res, err := client.Do(req)
	if err != nil {
		b.Fatalf("import: %v", err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}
