package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Bounds of a history answer.
const (
	DefaultLimit = 200
	MaxLimit     = 1000
	// MaxPerUser bounds the workouts kept per user (newest first); about
	// ten years of daily training.
	MaxPerUser = 5000
)

// ErrBadQuery is wrapped by History for a query it cannot answer.
var ErrBadQuery = errors.New("bad history query")

// Query selects part of a user's history.
type Query struct {
	// Exercise keeps one exercise ("" for all).
	Exercise string
	// From and To bound PerformedAt to [From, To); a zero bound is open.
	From, To time.Time
	// Limit caps the answer (DefaultLimit when 0, at most MaxLimit). A
	// negative Limit asks for the whole history (up to MaxPerUser), as the
	// plan needs.
	Limit int
	// Deleted answers the deleted workouts (kept for undo) instead of the
	// live ones.
	Deleted bool
}

// View is a user's history as the reader knows it.
type View struct {
	// Workouts, newest PerformedAt first.
	Workouts []workout.Workout
	// AsOf is when this view was last read from the database; zero when it
	// never was (then Workouts holds only what this process published).
	AsOf time.Time
	// Stale is true when the database could not be read recently enough:
	// the view is the last known one, and pages should say so.
	Stale bool
	// Pending holds the ids among Workouts that were accepted (Remember)
	// but not yet seen in a database read: pages mark them as pending.
	Pending map[string]bool
}

// ReaderOptions tune a Reader; zero values take the defaults.
type ReaderOptions struct {
	Logger *slog.Logger
	// RefreshAfter: a view older than this is reloaded in the background
	// on its next use (default 10 s). When loads are slow (the embedded
	// store scans the whole collection) the interval stretches to three
	// times the last load's duration, so that refreshing never occupies
	// the database more than a third of the time.
	RefreshAfter time.Duration
	// StaleAfter: a view older than this is marked stale, and History waits
	// (WaitTimeout at most) for a reload before answering (default 2 min).
	// A view is also stale while its last load failed.
	StaleAfter time.Duration
	// WaitTimeout bounds how long History waits for a load (default
	// 400 ms), whatever the caller's deadline.
	WaitTimeout time.Duration
	// LoadTimeout is the deadline of one database read (default 20 s: a
	// scan on the embedded store takes seconds).
	LoadTimeout time.Duration
	// RetryAfter spaces reloads after a failed one (default 2 s).
	RetryAfter time.Duration
	// MaxUsers bounds the views kept in memory (default 1000); the least
	// recently used goes first.
	MaxUsers int
	// MaxLoads bounds concurrent database reads (default 1). Users waiting
	// for a load are read together in the next one (up to MaxBatchUsers),
	// so one scan serves every user that needs it.
	MaxLoads int
	// MaxBatchUsers bounds the users read by one load (default 100).
	MaxBatchUsers int
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Snapshots keeps a copy of each loaded history (when it changed),
	// read when a user's view is first needed, after a restart, so that the
	// first page shows the user's data while the full load runs; nil turns
	// this off. NewReader uses the database's SnapshotCollection.
	Snapshots Snapshots
}

func (o *ReaderOptions) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.RefreshAfter <= 0 {
		o.RefreshAfter = 10 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2 * time.Minute
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = 400 * time.Millisecond
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 20 * time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 2 * time.Second
	}
	if o.MaxUsers <= 0 {
		o.MaxUsers = 1000
	}
	if o.MaxLoads <= 0 {
		o.MaxLoads = 1
	}
	if o.MaxBatchUsers <= 0 {
		o.MaxBatchUsers = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Loader reads every workout of the given users, in any order, grouped by
// user id. The database implementation is the default; tests substitute
// their own.
type Loader interface {
	LoadUsers(ctx context.Context, userIDs []string) (map[string][]workout.Workout, error)
}

// Reader answers history queries from per-user views kept fresh in the
// background. It is safe for concurrent use.
type Reader struct {
	opts   ReaderOptions
	loader Loader

	mu    sync.Mutex
	views map[string]*view

	qmu      sync.Mutex
	queue    map[string]*view // users waiting for a load
	workers  int
	lastTook time.Duration // duration of the last successful load

	smu       sync.Mutex
	toSave    map[string]pendingSnapshot // newest snapshot per user not yet written
	saverDone chan struct{}              // open while a goroutine writes toSave
}

type pendingSnapshot struct {
	v    *view
	hash uint64
	snap Snapshot
}

// pendingTTL is how long a remembered workout that the database does not
// show yet stays in the view (the consumer may be paused by an outage).
const pendingTTL = 30 * time.Minute

type view struct {
	mu sync.Mutex
	// workouts are the last load's plus the pending ones, oldest first so
	// that a just-logged workout (usually the newest) is appended, not
	// inserted in front of the whole history; deleted ones are apart.
	workouts  []workout.Workout
	deleted   []workout.Workout
	pending   map[string]pendingWorkout
	asOf      time.Time // last successful load
	attempted time.Time // last load started
	lastErr   error     // of the last load
	loading   chan struct{}
	used      time.Time
	// ready is closed once the view holds data (from a snapshot or a
	// load) or its first load ended, whichever comes first.
	ready        chan struct{}
	snapshotRead bool   // a snapshot read was started
	savedHash    uint64 // contentHash of the snapshot last read or written
}

type pendingWorkout struct {
	w     workout.Workout
	added time.Time
}

// NewReader reads from db's workouts collection with readPreference
// secondaryPreferred and maxStalenessSeconds 90, and keeps snapshots in
// db's SnapshotCollection unless opts.Snapshots is set.
func NewReader(db *mongo.Database, opts ReaderOptions) *Reader {
	if opts.Snapshots == nil {
		opts.Snapshots = NewSnapshots(db)
	}
	return NewReaderWithLoader(dbLoader{coll: db.Collection(Collection, options.Collection().SetReadPreference(ReadPreference()))}, opts)
}

// NewReaderWithLoader reads through l.
func NewReaderWithLoader(l Loader, opts ReaderOptions) *Reader {
	opts.defaults()
	return &Reader{
		opts:   opts,
		loader: l,
		views:  map[string]*view{},
		queue:  map[string]*view{},
		toSave: map[string]pendingSnapshot{},
	}
}

type dbLoader struct{ coll *mongo.Collection }

// LoadUsers filters by user and leaves the order to the caller: on MongoDB
// the user_performed index serves the filter; the embedded store scans the
// collection whatever the filter, so one read for many users costs what
// one read for one user does, and it sorts far slower than Go does.
func (l dbLoader) LoadUsers(ctx context.Context, userIDs []string) (map[string][]workout.Workout, error) {
	filter := bson.D{{Key: "user_id", Value: userIDs[0]}}
	if len(userIDs) > 1 {
		filter = bson.D{{Key: "user_id", Value: bson.D{{Key: "$in", Value: userIDs}}}}
	}
	cur, err := l.coll.Find(ctx, filter, options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, fmt.Errorf("find workouts of %d users: %w", len(userIDs), err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := make(map[string][]workout.Workout, len(userIDs))
	for cur.Next(ctx) {
		var w workout.Workout
		if err := cur.Decode(&w); err != nil {
			return nil, fmt.Errorf("decode workout %s: %w", cur.Current.Lookup("_id"), err)
		}
		out[w.UserID] = append(out[w.UserID], w)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read workouts of %d users: %w", len(userIDs), err)
	}
	return out, nil
}

// refreshAfter is RefreshAfter stretched to three times the last load.
func (r *Reader) refreshAfter() time.Duration {
	r.qmu.Lock()
	took := r.lastTook
	r.qmu.Unlock()
	return max(r.opts.RefreshAfter, 3*took)
}

// History answers q for userID within the caller's deadline and
// WaitTimeout. It returns an error only for a bad query; when the database
// is slow or down the view is the last known one with Stale set.
func (r *Reader) History(ctx context.Context, userID string, q Query) (View, error) {
	if err := q.check(); err != nil {
		return View{}, err
	}
	if userID == "" {
		return View{}, fmt.Errorf("%w: empty user id", ErrBadQuery)
	}
	v := r.view(userID)
	now := r.opts.Now()

	refresh := r.refreshAfter()
	v.mu.Lock()
	v.used = now
	loaded := !v.asOf.IsZero()
	age := now.Sub(v.asOf)
	if !loaded || age > refresh {
		r.startLoadLocked(userID, v, now)
	}
	// Wait for the load when the view is too old, and for the load or the
	// snapshot when it is missing, unless the database just failed: then
	// answer at once from what is known.
	wait := v.loading
	if !loaded {
		wait = v.ready
	}
	if (loaded && age <= r.opts.StaleAfter) || v.lastErr != nil {
		wait = nil
	}
	v.mu.Unlock()

	if wait != nil {
		t := time.NewTimer(r.opts.WaitTimeout)
		select {
		case <-wait:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}

	v.mu.Lock()
	defer v.mu.Unlock()
	out := View{AsOf: v.asOf}
	out.Stale = v.asOf.IsZero() || v.lastErr != nil || r.opts.Now().Sub(v.asOf) > r.opts.StaleAfter
	if q.Deleted {
		out.Workouts = q.apply(v.deleted)
	} else {
		out.Workouts = q.apply(v.workouts)
	}
	if len(v.pending) > 0 {
		for _, w := range out.Workouts {
			if _, ok := v.pending[w.ID]; ok {
				if out.Pending == nil {
					out.Pending = map[string]bool{}
				}
				out.Pending[w.ID] = true
			}
		}
	}
	return out, nil
}

// Warm loads userID's view if it is missing or old, waiting for the load
// (bounded by ctx).
func (r *Reader) Warm(ctx context.Context, userID string) error {
	v := r.view(userID)
	refresh := r.refreshAfter()
	v.mu.Lock()
	now := r.opts.Now()
	v.used = now
	if !v.asOf.IsZero() && now.Sub(v.asOf) <= refresh {
		v.mu.Unlock()
		return nil
	}
	r.startLoadLocked(userID, v, now)
	wait := v.loading
	v.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("warm history of %s: %w", userID, ctx.Err())
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lastErr != nil {
		return fmt.Errorf("warm history of %s: %w", userID, v.lastErr)
	}
	return nil
}

// Remember adds a workout this process (or another web replica, package
// peers) just published to its user's view, so that the user sees it
// before the consumer stored it. It stays pending until a load shows it
// from the database, in this version or a newer one (or pendingTTL
// passes). A change (version above 0) replaces an older copy of its
// workout and is ignored when the view has a newer one.
func (r *Reader) Remember(w workout.Workout) {
	v := r.view(w.UserID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pending == nil {
		v.pending = map[string]pendingWorkout{}
	}
	if w.Version > 0 {
		v.rememberChange(w, r.opts.Now())
		return
	}
	if p, known := v.pending[w.ID]; known {
		if p.w.Version == 0 {
			p.added = r.opts.Now()
			v.pending[w.ID] = p
		}
		return
	}
	// A retry of a workout deleted since stays deleted.
	for _, d := range v.deleted {
		if d.ID == w.ID {
			return
		}
	}
	v.pending[w.ID] = pendingWorkout{w: w, added: r.opts.Now()}
	// The view is sorted: find w's place rather than re-sort or scan a long
	// history on every logged workout. A retry of a stored workout may
	// differ in its logged time, never in its performed time, so a copy
	// already in the view sits among the workouts performed at that time.
	i, found := slices.BinarySearchFunc(v.workouts, w, oldestFirst)
	if found {
		return
	}
	for j := i - 1; j >= 0 && v.workouts[j].PerformedAt.Equal(w.PerformedAt); j-- {
		if v.workouts[j].ID == w.ID {
			return
		}
	}
	for j := i; j < len(v.workouts) && v.workouts[j].PerformedAt.Equal(w.PerformedAt); j++ {
		if v.workouts[j].ID == w.ID {
			return
		}
	}
	v.workouts = slices.Insert(v.workouts, i, w)
}

// rememberChange installs the change w unless the view holds the same or
// a newer version of its workout. Changes are rare next to new workouts:
// a scan of the history is fine. v.mu is held.
func (v *view) rememberChange(w workout.Workout, now time.Time) {
	if p, ok := v.pending[w.ID]; ok && p.w.Version >= w.Version {
		return
	}
	for _, list := range [][]workout.Workout{v.workouts, v.deleted} {
		for _, old := range list {
			if old.ID == w.ID && old.Version >= w.Version {
				return
			}
		}
	}
	v.pending[w.ID] = pendingWorkout{w: w, added: now}
	drop := func(ws []workout.Workout) []workout.Workout {
		return slices.DeleteFunc(ws, func(o workout.Workout) bool { return o.ID == w.ID })
	}
	v.workouts, v.deleted = drop(v.workouts), drop(v.deleted)
	if w.Deleted {
		v.deleted = insertSorted(v.deleted, w)
	} else {
		v.workouts = insertSorted(v.workouts, w)
	}
}

func insertSorted(ws []workout.Workout, w workout.Workout) []workout.Workout {
	i, _ := slices.BinarySearchFunc(ws, w, oldestFirst)
	return slices.Insert(ws, i, w)
}

// Ping checks that the database answers within ctx (always nil for a
// Reader over a custom Loader).
func (r *Reader) Ping(ctx context.Context) error {
	l, ok := r.loader.(dbLoader)
	if !ok {
		return nil
	}
	if err := l.coll.Database().Client().Ping(ctx, ReadPreference()); err != nil {
		return fmt.Errorf("ping mongodb: %w", err)
	}
	return nil
}

func (r *Reader) view(userID string) *view {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.views[userID]; ok {
		return v
	}
	if len(r.views) >= r.opts.MaxUsers {
		r.evictLocked()
	}
	v := &view{used: r.opts.Now(), ready: make(chan struct{})}
	r.views[userID] = v
	return v
}

// evictLocked drops the least recently used view.
func (r *Reader) evictLocked() {
	var oldest string
	var oldestUsed time.Time
	for id, v := range r.views {
		v.mu.Lock()
		used := v.used
		v.mu.Unlock()
		if oldest == "" || used.Before(oldestUsed) {
			oldest, oldestUsed = id, used
		}
	}
	delete(r.views, oldest)
}

// startLoadLocked queues a background load of v unless one is queued or
// running, or the last one failed less than RetryAfter ago. v.mu is held.
func (r *Reader) startLoadLocked(userID string, v *view, now time.Time) {
	if v.loading != nil {
		return
	}
	if v.lastErr != nil && now.Sub(v.attempted) < r.opts.RetryAfter {
		return
	}
	v.loading = make(chan struct{})
	v.attempted = now
	if r.opts.Snapshots != nil && v.asOf.IsZero() && !v.snapshotRead {
		v.snapshotRead = true
		go r.readSnapshot(userID, v)
	}
	r.qmu.Lock()
	defer r.qmu.Unlock()
	r.queue[userID] = v
	if r.workers < r.opts.MaxLoads {
		r.workers++
		go r.work()
	}
}

// work loads queued users, many per database read, until none is left.
func (r *Reader) work() {
	for {
		r.qmu.Lock()
		if len(r.queue) == 0 {
			r.workers--
			r.qmu.Unlock()
			return
		}
		batch := make(map[string]*view, min(len(r.queue), r.opts.MaxBatchUsers))
		for id, v := range r.queue {
			if len(batch) == r.opts.MaxBatchUsers {
				break
			}
			batch[id] = v
			delete(r.queue, id)
		}
		r.qmu.Unlock()
		r.load(batch)
	}
}

func (r *Reader) load(batch map[string]*view) {
	ids := make([]string, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.LoadTimeout)
	start := time.Now()
	found, err := r.loader.LoadUsers(ctx, ids)
	cancel()
	took := time.Since(start)
	if err != nil {
		r.opts.Logger.Warn("history load failed; serving last known views", "users", len(ids), "error", err)
	} else {
		r.qmu.Lock()
		r.lastTook = took
		r.qmu.Unlock()
		r.opts.Logger.Debug("loaded histories", "users", len(ids), "took", took)
	}
	for _, id := range ids {
		r.finish(id, batch[id], found[id], err)
	}
}

// finish installs a load's result in v, wakes its waiters and queues a
// snapshot when the history changed since the last one.
func (r *Reader) finish(userID string, v *view, ws []workout.Workout, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	defer close(v.loading)
	v.loading = nil
	v.lastErr = err
	v.markReadyLocked()
	if err != nil {
		return
	}
	now := r.opts.Now()
	if r.opts.Snapshots != nil {
		if h := contentHash(ws); h != v.savedHash {
			r.queueSnapshot(userID, pendingSnapshot{v: v, hash: h, snap: snapshotOf(ws, now)})
		}
	}
	r.install(v, ws, now)
}

func (v *view) markReadyLocked() {
	select {
	case <-v.ready:
	default:
		close(v.ready)
	}
}

// readSnapshot installs userID's snapshot in v unless the full load was
// first.
func (r *Reader) readSnapshot(userID string, v *view) {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.LoadTimeout)
	s, found, err := r.opts.Snapshots.LoadSnapshot(ctx, userID)
	cancel()
	if err != nil {
		r.opts.Logger.Warn("history snapshot not read; waiting for the full load", "user", userID, "error", err)
		return
	}
	if !found {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.asOf.IsZero() {
		return
	}
	v.savedHash = contentHash(s.Workouts)
	r.install(v, s.Workouts, s.AsOf)
	v.markReadyLocked()
	r.opts.Logger.Debug("history served from snapshot until the full load", "user", userID, "workouts", len(s.Workouts), "as_of", s.AsOf)
}

// queueSnapshot has p written in the background, replacing an older
// snapshot of the same user still waiting.
func (r *Reader) queueSnapshot(userID string, p pendingSnapshot) {
	r.smu.Lock()
	defer r.smu.Unlock()
	r.toSave[userID] = p
	if r.saverDone == nil {
		r.saverDone = make(chan struct{})
		go r.writeSnapshots(r.saverDone)
	}
}

// writeSnapshots writes queued snapshots one at a time until none is left.
func (r *Reader) writeSnapshots(done chan struct{}) {
	defer close(done)
	for {
		r.smu.Lock()
		if len(r.toSave) == 0 {
			r.saverDone = nil
			r.smu.Unlock()
			return
		}
		var userID string
		var p pendingSnapshot
		for userID, p = range r.toSave {
			break
		}
		delete(r.toSave, userID)
		r.smu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), r.opts.LoadTimeout)
		err := r.opts.Snapshots.SaveSnapshot(ctx, userID, p.snap)
		cancel()
		if err != nil {
			// The hash stays as it was: the next load queues it again.
			r.opts.Logger.Warn("history snapshot not saved", "user", userID, "error", err)
			continue
		}
		p.v.mu.Lock()
		p.v.savedHash = p.hash
		p.v.mu.Unlock()
	}
}

// Flush waits (bounded by ctx) until the queued snapshots are written, so
// that a replica shutting down leaves its successor fresh ones.
func (r *Reader) Flush(ctx context.Context) error {
	r.smu.Lock()
	done := r.saverDone
	r.smu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("flush history snapshots: %w", ctx.Err())
	}
}

// install makes ws, read from the database as of asOf, v's history, with
// the pending workouts the read does not show yet. v.mu is held.
func (r *Reader) install(v *view, ws []workout.Workout, asOf time.Time) {
	now := r.opts.Now()
	v.asOf = asOf
	// The version each workout was read in; a pending change replaces an
	// older one.
	seen := make(map[string]int64, len(ws))
	for _, w := range ws {
		seen[w.ID] = w.Version
	}
	var replaced map[string]bool
	for id, p := range v.pending {
		stored, ok := seen[id]
		if (ok && stored >= p.w.Version) || now.Sub(p.added) > pendingTTL {
			delete(v.pending, id)
			continue
		}
		if ok {
			if replaced == nil {
				replaced = map[string]bool{}
			}
			replaced[id] = true
		}
		ws = append(ws, p.w)
	}
	live := ws[:0]
	var deleted []workout.Workout
	for _, w := range ws {
		switch {
		case replaced[w.ID] && w.Version == seen[w.ID] && v.pending[w.ID].w.Version != w.Version:
			// the stored copy a pending change replaces
		case w.Deleted:
			deleted = append(deleted, w)
		default:
			live = append(live, w)
		}
	}
	slices.SortFunc(live, oldestFirst)
	slices.SortFunc(deleted, oldestFirst)
	if len(live) > MaxPerUser {
		live = live[len(live)-MaxPerUser:]
	}
	if len(deleted) > MaxPerUser {
		deleted = deleted[len(deleted)-MaxPerUser:]
	}
	v.workouts, v.deleted = live, deleted
}

func oldestFirst(a, b workout.Workout) int { return newestFirst(b, a) }

// newestFirst orders by performed date, then logged time, newest first; the
// id breaks ties so the order is total.
func newestFirst(a, b workout.Workout) int {
	if c := b.PerformedAt.Compare(a.PerformedAt); c != 0 {
		return c
	}
	if c := b.LoggedAt.Compare(a.LoggedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func (q Query) check() error {
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return fmt.Errorf("%w: from must be before to", ErrBadQuery)
	}
	if q.Limit > MaxLimit {
		return fmt.Errorf("%w: limit above %d", ErrBadQuery, MaxLimit)
	}
	return nil
}

// apply filters ws (oldest first) and copies the answer, newest first.
func (q Query) apply(ws []workout.Workout) []workout.Workout {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultLimit
	case limit < 0:
		limit = MaxPerUser
	}
	out := make([]workout.Workout, 0, min(limit, len(ws)))
	for i := len(ws) - 1; i >= 0; i-- {
		w := ws[i]
		if len(out) == limit {
			break
		}
		if q.Exercise != "" && w.Exercise != q.Exercise {
			continue
		}
		if !q.From.IsZero() && w.PerformedAt.Before(q.From) {
			continue
		}
		if !q.To.IsZero() && !w.PerformedAt.Before(q.To) {
			continue
		}
		out = append(out, w)
	}
	return out
}
