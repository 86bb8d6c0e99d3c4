// Package store keeps workouts in MongoDB: the consumer's batched,
// idempotent writes and the web app's bounded, degradable reads.
//
// Connecting (TLS by configuration, reads from secondaries):
//
//	client, err := store.Connect(store.Config{
//		URI:            "mongodb://...",  // MONGODB_URI
//		TLSCAFile:      "",               // MONGODB_TLS_CA_FILE
//		TLSCertKeyFile: "",               // MONGODB_TLS_CERT_KEY_FILE
//	})
//	// Connect does not wait for a server, so a service starts while the
//	// database is down.
//	db := client.Database("fitness")      // MONGODB_DATABASE
//	err = store.EnsureIndexes(ctx, db)
//
// Writes (consumer): Writer.InsertBatch inserts with ordered:false and write
// concern majority + journal; a duplicate key (the workout id is the _id)
// counts as success, so a redelivered message never duplicates a workout.
//
//	res, err := store.NewWriter(db).InsertBatch(ctx, workouts)
//	// err != nil: nothing can be assumed written (retry the whole batch);
//	// res.Inserted, res.Duplicates; res.Rejected[i] for a document the
//	// database refused for good (dead-letter it).
//
// Reads (web app): a Reader serves a user's history from a per-user view
// kept in memory, loaded from the database on first use and refreshed in
// the background, because a query on the embedded store scans the whole
// collection. Reads use readPreference secondaryPreferred with
// maxStalenessSeconds 90 and short deadlines. When the database is slow or
// down, History answers within the caller's deadline from the last-known
// view, marked stale:
//
//	r := store.NewReader(db, store.ReaderOptions{Logger: logger})
//	v, err := r.History(ctx, userID, store.Query{
//		Exercise: "back-squat",           // "" for all
//		From:     from, To: to,           // performed_at in [From, To); zero = open
//		Limit:    200,                    // 0 = DefaultLimit; at most MaxLimit
//	})
//	// v.Workouts newest first; v.Stale true when this is a last-known view
//	// the database could not refresh; v.AsOf when it was read (zero: never).
//	// err only for a bad query (ErrBadQuery): a slow or cancelled read
//	// still answers, from the last-known view.
//
// A Reader over a database also keeps each loaded history (when it changed)
// in SnapshotCollection under the user's id, and reads it when a view is
// first needed, beside the full load: after a restart the first page shows
// the user's data although the embedded store needs seconds to find it by
// user.
//
//	r.Remember(w) // after a confirmed publish: the user sees it at once
//	r.Warm(ctx, userID) // load a user's view ahead of time (e.g. at login)
//	r.Ping(ctx)        // database reachable (for metrics/logs, not /readyz)
//	r.Flush(ctx)       // at shutdown: write the queued history snapshots
//
// Query{Limit: -1} is the full history the plan needs: every workout of the
// user (up to MaxPerUser, newest first). The returned workouts share their
// Sets with the reader's view: read them, do not modify them.
package store
