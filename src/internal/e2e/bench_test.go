package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/access"
	"github.com/homelab-gitops/homelab/src/internal/bench"
	"github.com/homelab-gitops/homelab/src/internal/demo"
	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/topology"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Benchmark sizes. The benchmarks print their figures; they assert nothing
// about time.
const (
	benchGoroutines = 256
	benchMessages   = 20000
	benchRounds     = 3
	// rawWindow is the raw publisher's asynchronous confirm window, shared
	// by its goroutines (the web tier's publisher uses the same default).
	rawWindow = 1000
)

// webTierConns is how many connections the load generator of
// BenchmarkWebTier keeps, each with one request at a time: the same for
// the web tier and for HTTP alone, so that the two stay comparable.
var webTierConns = flag.Int("webtier-conns", benchGoroutines,
	"connections (requests in flight) of BenchmarkWebTier's load generator, for the web tier and HTTP alone alike")

// benchUsers is how many users the write benchmarks spread over: the web
// tier keeps each user's just-logged workouts in memory, and a real load
// comes from many users.
const benchUsers = 1000

// userHeader names the benchmark user of a request.
const userHeader = "X-Bench-User"

// headerAuth authenticates the user named in userHeader: benchmarks only.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (access.Identity, error) {
	u := r.Header.Get(userHeader)
	if u == "" {
		return access.Identity{}, access.ErrNoToken
	}
	return access.Identity{UserID: u, Email: u}, nil
}

func benchWorkout(i int) workout.Workout {
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	return workout.Workout{
		ID: uuid.NewString(), UserID: fmt.Sprintf("user-%d@example.com", i%benchUsers), Exercise: "back-squat", PerformedAt: at, Unit: workout.Kilograms,
		Sets:     []workout.Set{{Reps: 5, Weight: 100}, {Reps: 5, Weight: 100}, {Reps: 5 - i%2, Weight: 100}},
		LoggedAt: at.Add(time.Minute),
	}
}

// BenchmarkWebTier compares confirmed POST /api/v1/workouts throughput at
// the maximum rate with the limit of the same two cores for that work,
// measured in the same run: HTTP alone (the same client against a handler
// that answers 202 at once) and raw amqp091-go confirmed publishing of the
// same persistent messages (asynchronous window), served one after the
// other, 1 / (1/HTTP-alone + 1/raw-publish). It prints "web tier ratio:
// 0.xx" (target at least 0.8) and, as before, "publish ratio" against raw
// publishing alone. The web tier runs as in production, announcing its
// accepted workouts to the other replicas (package peers).
func BenchmarkWebTier(b *testing.B) {
	s := newStack(b, stackOptions{auth: headerAuth{}, peers: true})
	bodies := make([][]byte, benchMessages)
	for i := range bodies {
		w := benchWorkout(i)
		w.ID, w.UserID, w.LoggedAt = "", "", time.Time{}
		data, err := json.Marshal(w)
		if err != nil {
			b.Fatal(err)
		}
		// The API takes a workout without server-set fields.
		bodies[i] = []byte(strings.NewReplacer(`"id":"",`, "", `"user_id":"",`, "", `,"logged_at":"0001-01-01T00:00:00Z"`, "").Replace(string(data)))
	}
	// The HTTP ceiling: the same requests through the same client to a
	// handler that answers 202 at once, so the figures below can be read
	// against what HTTP alone costs on this machine.
	null := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id":"00000000-0000-4000-8000-000000000000"}` + "\n"))
	}))
	defer null.Close()

	meter := bench.CPUMeter{BrokerMatch: broker.Dir()}
	measure := func(cpu *bench.CPUUse, f func() float64) float64 {
		before := meter.Sample()
		rate := f()
		u := meter.Since(before)
		cpu.Wall += u.Wall
		cpu.Self += u.Self
		cpu.Broker += u.Broker
		cpu.Busy += u.Busy * u.Wall.Seconds()
		cpu.Cores = u.Cores
		return rate
	}
	var raws, syncs, webs, ceilings []float64
	var rawCPU, webCPU, ceilingCPU, syncCPU bench.CPUUse
	for round := range benchRounds {
		purgeQueue(b)
		raw := measure(&rawCPU, func() float64 { return rawPublish(b, benchMessages, benchGoroutines, rawWindow) })
		purgeQueue(b)
		sync1 := measure(&syncCPU, func() float64 { return rawPublish(b, benchMessages, benchGoroutines, benchGoroutines) })
		purgeQueue(b)
		web := measure(&webCPU, func() float64 { return webPublish(b, s.srv.URL, bodies, *webTierConns) })
		purgeQueue(b)
		ceiling := measure(&ceilingCPU, func() float64 { return webPublish(b, null.URL, bodies, *webTierConns) })
		fmt.Printf("round %d: raw amqp091-go %.0f msg/s (one in flight per goroutine: %.0f), web POST %.0f req/s, HTTP alone %.0f req/s: web tier ratio %.2f\n",
			round+1, raw, sync1, web, ceiling, web/serialLimit(ceiling, raw))
		raws, syncs = append(raws, raw), append(syncs, sync1)
		webs, ceilings = append(webs, web), append(ceilings, ceiling)
	}
	perOp := func(u bench.CPUUse) string {
		u.Busy /= u.Wall.Seconds()
		return u.PerOp(benchMessages * benchRounds)
	}
	raw, sync1, web, ceiling := median(raws), median(syncs), median(webs), median(ceilings)
	fmt.Printf("web tier: %d connections (HTTP alone too), raw publishing %d goroutines, %d messages per run, medians of %d rounds\n",
		*webTierConns, benchGoroutines, benchMessages, benchRounds)
	fmt.Printf("raw publish with confirms (window %d): %.0f msg/s\n", rawWindow, raw)
	fmt.Printf("raw publish, one confirm in flight per goroutine (window %d): %.0f msg/s\n", benchGoroutines, sync1)
	fmt.Printf("HTTP alone (same client, a handler answering 202 at once): %.0f req/s\n", ceiling)
	fmt.Printf("confirmed POST /api/v1/workouts: %.0f req/s (%.2f of HTTP alone)\n", web, web/ceiling)
	fmt.Printf("  raw, window %d: %s\n", rawWindow, perOp(rawCPU))
	fmt.Printf("  raw, one in flight per goroutine: %s\n", perOp(syncCPU))
	fmt.Printf("  confirmed POST: %s\n", perOp(webCPU))
	fmt.Printf("  HTTP alone: %s\n", perOp(ceilingCPU))
	limit := serialLimit(ceiling, raw)
	fmt.Printf("serial limit, HTTP alone then raw publish: 1 / (1/%.0f + 1/%.0f) = %.0f req/s\n", ceiling, raw, limit)
	fmt.Printf("web tier ratio: %.2f\n", web/limit)
	// The same comparison in CPU time per operation (this process and the
	// broker), which other work on a shared machine does not change: the
	// serial limit costs the HTTP request plus the raw publish.
	cpu := func(u bench.CPUUse) float64 {
		return float64((u.Self + u.Broker).Microseconds()) / float64(benchMessages*benchRounds)
	}
	fmt.Printf("web tier ratio by CPU time per operation: (%.0f µs HTTP alone + %.0f µs raw publish) / %.0f µs confirmed POST = %.2f\n",
		cpu(ceilingCPU), cpu(rawCPU), cpu(webCPU), (cpu(ceilingCPU)+cpu(rawCPU))/cpu(webCPU))
	fmt.Printf("publish ratio: %.2f\n", web/raw)
	fmt.Printf("(against one confirm in flight per goroutine, as each HTTP request waits for its own: %.2f)\n", web/sync1)
	b.ReportMetric(web, "post/s")
	b.ReportMetric(raw, "raw-msg/s")
	b.ReportMetric(web/limit, "web-tier-ratio")
	b.ReportMetric(web/raw, "ratio")
}

// serialLimit is the rate of doing both an HTTP request (rate httpAlone)
// and a raw confirmed publish (rate raw) per operation on the same cores,
// one after the other: what a web tier that adds nothing of its own to
// either would reach.
func serialLimit(httpAlone, raw float64) float64 {
	if httpAlone <= 0 || raw <= 0 {
		return 0
	}
	return 1 / (1/httpAlone + 1/raw)
}

// rawPublish publishes n persistent, mandatory messages to the workouts
// exchange from g goroutines sharing one confirm-mode channel and a window
// of unconfirmed messages, and returns messages per second.
func rawPublish(b *testing.B, n, g, window int) float64 {
	b.Helper()
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	defer ch.Close()
	if err := topology.Declare(ch); err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	msgs := make([]amqp.Publishing, n)
	for i := range msgs {
		w := benchWorkout(i)
		body, err := json.Marshal(w)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = rawMessage(w.ID, body)
	}
	perG := max(1, window/g)
	var next, nacked atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	start := time.Now()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var inflight []*amqp.DeferredConfirmation
			wait := func(dc *amqp.DeferredConfirmation) {
				if ok, err := dc.WaitContext(ctx); err != nil || !ok {
					nacked.Add(1)
				}
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					break
				}
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, topology.Exchange, topology.RoutingKey, true, false, msgs[i])
				if err != nil {
					nacked.Add(1)
					continue
				}
				inflight = append(inflight, dc)
				if len(inflight) >= perG {
					wait(inflight[0])
					inflight = inflight[1:]
				}
			}
			for _, dc := range inflight {
				wait(dc)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if nacked.Load() > 0 {
		b.Fatalf("raw publishing: %d messages not confirmed", nacked.Load())
	}
	return float64(n) / elapsed.Seconds()
}

// rawMessage is what package publish sends for a workout: the same
// properties, so both sides put the same bytes on the wire.
func rawMessage(id string, body []byte) amqp.Publishing {
	return amqp.Publishing{
		ContentType: "application/json", DeliveryMode: amqp.Persistent, MessageId: id,
		Timestamp: time.Now().UTC(), Type: "workout.logged", AppId: "fitness-web", Body: body,
	}
}

// webPublish POSTs every body from g goroutines, each on its own
// keep-alive connection, and returns confirmed (202) requests per second.
//
// The load generator shares the machine's cores with the server and the
// broker, so it is kept lean: each goroutine writes its request bytes
// itself and parses the answer with net/http's response reader, without
// net/http's Transport, whose pool and per-connection read and write
// goroutines cost as much CPU per request as the server's handling.
func webPublish(b *testing.B, base string, bodies [][]byte, g int) float64 {
	b.Helper()
	u, err := neturl.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &loadConn{addr: u.Host}
			defer c.close()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				code, err := c.post("/api/v1/workouts", bodies[i], fmt.Sprintf("user-%d@example.com", i%benchUsers))
				if code != http.StatusAccepted {
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("status %d", code)
					}
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		b.Fatalf("web tier: %d of %d POSTs not accepted (first: %v)", n, len(bodies), firstErr.Load())
	}
	return float64(len(bodies)) / elapsed.Seconds()
}

// loadConn is one keep-alive HTTP/1.1 connection of the load generator.
type loadConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
}

// post sends one POST and returns the answer's status code. A connection
// the server closed is dialled again once.
func (c *loadConn) post(path string, body []byte, user string) (int, error) {
	for attempt := 0; ; attempt++ {
		code, err := c.roundTrip(path, body, user)
		if err == nil || attempt > 0 {
			return code, err
		}
		c.close()
	}
}

func (c *loadConn) roundTrip(path string, body []byte, user string) (int, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	c.buf = fmt.Appendf(c.buf[:0], "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		path, c.addr, userHeader, user, len(body))
	c.buf = append(c.buf, body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.Close {
		c.close()
	}
	return res.StatusCode, err
}

func (c *loadConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

func post(s *stack, url string, body []byte, user string) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(userHeader, user)
	res, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// BenchmarkPostLatency sends POST /api/v1/workouts at a fixed 500 req/s for
// 10 s (open loop: latency counts from the scheduled send time) and prints
// p50 and p99 (target p99 at most 25 ms).
func BenchmarkPostLatency(b *testing.B) {
	const rate, seconds = 500, 10
	s := newStack(b, stackOptions{auth: headerAuth{}})
	purgeQueue(b)
	defer purgeQueue(b)
	url := s.srv.URL + "/api/v1/workouts"
	body := []byte(fmt.Sprintf(`{"exercise":"deadlift","performed_at":%q,"unit":"kg","sets":[{"reps":5,"weight":140}]}`,
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)))
	n := rate * seconds
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / rate
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := post(s, url, body, fmt.Sprintf("user-%d@example.com", i%benchUsers)); code != http.StatusAccepted {
				failed.Add(1)
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d POSTs not accepted", failed.Load(), n)
	}
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	fmt.Printf("POST /api/v1/workouts at %d req/s for %d s: p50 %s, p90 %s, p99 %s, max %s\n",
		rate, seconds, ms(p50), ms(percentile(lat, 90)), ms(p99), ms(slices.Max(lat)))
	raw := rawLatency(b, rate, n)
	fmt.Printf("raw amqp091-go publish+confirm at %d msg/s, same broker: p50 %s, p90 %s, p99 %s, max %s\n",
		rate, ms(percentile(raw, 50)), ms(percentile(raw, 90)), ms(percentile(raw, 99)), ms(slices.Max(raw)))
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// BenchmarkReadPages measures the plan and history pages for a user with
// two years of history (about 650 workouts) among 100,000 stored workouts,
// on the embedded store or MONGODB_URI, and prints p50 and p99 (target p99
// at most 100 ms).
func BenchmarkReadPages(b *testing.B) {
	const total, others = 100000, 400
	s := newStack(b, stackOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	mine := demo.History(devUser, time.Now(), 104)
	docs := make([]any, 0, total)
	for _, w := range mine {
		docs = append(docs, w)
	}
	filler := demo.History("filler@example.com", time.Now(), 104)
	for i := 0; len(docs) < total; i++ {
		w := filler[i%len(filler)]
		w.ID = uuid.NewString()
		w.UserID = fmt.Sprintf("user-%03d@example.com", i%others)
		docs = append(docs, w)
	}
	loadStart := time.Now()
	coll := s.db.Collection(store.Collection)
	for i := 0; i < len(docs); i += 1000 {
		if _, err := coll.InsertMany(ctx, docs[i:min(i+1000, len(docs))], options.InsertMany().SetOrdered(false)); err != nil {
			b.Fatalf("load: %v", err)
		}
	}
	if err := store.EnsureIndexes(ctx, s.db); err != nil {
		b.Fatalf("indexes: %v", err)
	}
	kind := "embedded FerretDB"
	if !mongod.Embedded() {
		kind = "MONGODB_URI"
	}
	fmt.Printf("reads on %s: %d workouts stored in %s, %d of them the user's\n", kind, len(docs), time.Since(loadStart).Round(time.Millisecond), len(mine))

	warmStart := time.Now()
	if err := s.reader.Warm(ctx, devUser); err != nil {
		b.Fatalf("warm: %v", err)
	}
	fmt.Printf("first load of the user's history (cold cache): %s\n", time.Since(warmStart).Round(time.Millisecond))

	for _, page := range []string{"/", "/history", "/progress", "/api/v1/plan"} {
		const n = 300
		lat := make([]time.Duration, 0, n)
		stale := 0
		for range n {
			d, code, isStale := get(b, s, page)
			if code != http.StatusOK {
				b.Fatalf("%s: status %d", page, code)
			}
			if isStale {
				stale++
			}
			lat = append(lat, d)
		}
		fmt.Printf("GET %-13s p50 %s, p99 %s (%d requests, %d stale)\n", page, ms(percentile(lat, 50)), ms(percentile(lat, 99)), n, stale)
		if page == "/" || page == "/history" {
			name := strings.Trim(strings.ReplaceAll(page, "/", ""), " ")
			if name == "" {
				name = "plan"
			}
			b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, name+"-p99-ms")
		}
	}
	if os.Getenv("MONGODB_URI") == "" {
		fmt.Println("(set MONGODB_URI to measure a real MongoDB deployment too)")
	}
}

// rawLatency publishes n messages at rate per second straight with
// amqp091-go, each waiting for its confirm, and returns each latency from
// its scheduled time: the broker's share of the POST latency.
func rawLatency(b *testing.B, rate, n int) []time.Duration {
	b.Helper()
	purgeQueue(b)
	defer purgeQueue(b)
	conn, err := amqp.Dial(broker.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		w := benchWorkout(i)
		body, err := json.Marshal(w)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), topology.Exchange, topology.RoutingKey, true, false,
				rawMessage(w.ID, body))
			if err != nil {
				failed.Add(1)
				return
			}
			if ok, err := dc.WaitContext(context.Background()); err != nil || !ok {
				failed.Add(1)
			}
			lat[i] = time.Since(at)
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("raw latency: %d messages not confirmed", failed.Load())
	}
	return lat
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
