package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/homelab-gitops/homelab/src/internal/transfer"
	"github.com/homelab-gitops/homelab/src/internal/workout"
)

// Bounds of an import.
const (
	// MaxImportBytes caps an import file (about 40,000 rows of Strong's
	// CSV).
	MaxImportBytes = 8 << 20
	// ImportRate bounds the workouts one import publishes per second, so
	// that an import leaves the queue and the consumer room for everyone
	// else's logging.
	ImportRate = 250
	// importWorkers publish an import's workouts concurrently (each waits
	// for its confirm).
	importWorkers = 8
	// maxImports bounds the imports running at once on this replica.
	maxImports = 2
	// importDeadline bounds one import request, upload to report.
	importDeadline = 2 * time.Minute
)

// exportFile answers every live workout of the user as CSV or JSON
// (format=csv|json), as a download. A history never read is refused: an
// export must not be silently empty.
func (s *Server) exportFile(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "json" {
		s.renderError(w, r, http.StatusBadRequest, `Choose the export format: format=csv or format=json.`)
		return
	}
	user := identity(r).UserID
	h := s.history(r.Context(), user, HistoryQuery{})
	if h.Unknown() {
		s.retryAfter(w)
		s.renderError(w, r, http.StatusServiceUnavailable, "Your history could not be read yet: the database is slow or not answering. Try again in a moment.")
		return
	}
	// Oldest first: the order the workouts were done in.
	ws := make([]workout.Workout, len(h.Workouts))
	for i, wo := range h.Workouts {
		ws[len(ws)-1-i] = wo
	}
	name := "workouts-" + s.now().UTC().Format("2006-01-02") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if h.Stale {
		w.Header().Set(StaleHeader, "true")
	}
	var err error
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		err = transfer.WriteCSV(w, ws)
	} else {
		w.Header().Set("Content-Type", jsonType)
		err = transfer.WriteJSON(w, ws)
	}
	if err != nil {
		s.logger(r.Context()).Warn("export cut short", "error", err.Error())
	}
}

// importReport says what an import did.
type importReport struct {
	// Workouts were read from the file; Imported were published now;
	// Already were in the user's history, live or deleted (the user's own
	// export, or an import run again); Failed
	// were not confirmed by the broker (run the import again: it is
	// idempotent).
	Workouts       int                  `json:"workouts"`
	Imported       int                  `json:"imported"`
	Already        int                  `json:"already"`
	Failed         int                  `json:"failed"`
	SkippedWarmups int                  `json:"skipped_warmups"`
	Rejected       []transfer.Rejection `json:"rejected"`
	Seconds        float64              `json:"seconds"`
}

// importer runs imports: at most maxImports at once, one per user.
type importer struct {
	mu      sync.Mutex
	running map[string]bool
}

func (im *importer) start(user string) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.running[user] || len(im.running) >= maxImports {
		return false
	}
	im.running[user] = true
	return true
}

func (im *importer) done(user string) {
	im.mu.Lock()
	delete(im.running, user)
	im.mu.Unlock()
}

// errImportBusy: another import runs.
var errImportBusy = errors.New("another import is running; try again when it has finished")

// importFile reads a file in format (csv or json) and publishes its
// workouts at ImportRate, skipping those the user's history holds.
func (s *Server) importFile(ctx context.Context, user string, body io.Reader, format string, o transfer.Options) (importReport, error) {
	if !s.imports.start(user) {
		return importReport{}, errImportBusy
	}
	defer s.imports.done(user)
	start := time.Now()
	o.UserID, o.Now = user, s.now()
	var res transfer.Result
	var err error
	if format == "json" {
		res, err = transfer.ReadJSON(body, o)
	} else {
		res, err = transfer.ReadCSV(body, o)
	}
	if err != nil {
		return importReport{}, err
	}
	rep := importReport{Workouts: len(res.Workouts), SkippedWarmups: res.Skipped, Rejected: res.Rejected}
	if rep.Rejected == nil {
		rep.Rejected = []transfer.Rejection{}
	}
	h := s.history(ctx, user, HistoryQuery{})
	if h.Unknown() {
		return importReport{}, errHistoryUnknown
	}
	// A workout the user has, or had and deleted, is not imported again.
	have := make(map[string]bool, len(h.Workouts))
	for _, wo := range append(h.Workouts, s.history(ctx, user, HistoryQuery{Deleted: true}).Workouts...) {
		have[wo.ID] = true
	}
	todo := make(chan workout.Workout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range importWorkers {
		wg.Go(func() {
			for wo := range todo {
				if err := s.publish(ctx, wo); err == nil {
					mu.Lock()
					rep.Imported++
					mu.Unlock()
				}
			}
		})
	}
	tick := time.NewTicker(time.Second / ImportRate)
	defer tick.Stop()
feed:
	for _, wo := range res.Workouts {
		orig := wo.ID
		wo.ID = importedID(user, orig)
		if have[orig] || have[wo.ID] {
			rep.Already++
			continue
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			break feed
		}
		select {
		case todo <- wo:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	// Not published: unconfirmed, or never sent because ctx ended.
	rep.Failed = rep.Workouts - rep.Imported - rep.Already
	rep.Seconds = time.Since(start).Seconds()
	s.logger(ctx).Info("import finished", "format", format, "workouts", rep.Workouts, "imported", rep.Imported,
		"already", rep.Already, "failed", rep.Failed, "rejected", len(rep.Rejected), "seconds", rep.Seconds)
	return rep, nil
}

// importNamespace derives the ids of imported workouts.
var importNamespace = uuid.MustParse("8d0f5c3e-61b2-4f0e-b1c4-3f1f6a9d2e40")

// importedID is the id an imported workout gets: derived from the user and
// the file's id, so that a file imported into another account never
// collides with the original workouts (ids are unique across users), and
// importing it again derives the same ids.
func importedID(user, fileID string) string {
	return uuid.NewSHA1(importNamespace, []byte(user+"\x00"+fileID)).String()
}

// importOptions reads the unit and time zone Strong's files need.
func importOptions(unit, tz string) (transfer.Options, map[string]string) {
	fields := map[string]string{}
	o := transfer.Options{Unit: workout.Unit(unit)}
	if unit != "" && o.Unit != workout.Kilograms && o.Unit != workout.Pounds {
		fields["unit"] = `must be "kg" or "lb"`
	}
	if tz != "" {
		if o.Location = location(tz); o.Location == nil {
			fields["tz"] = "must be an IANA time zone such as Europe/Berlin"
		}
	}
	return o, fields
}

// extendDeadlines gives an import request importDeadline to upload and
// answer, beyond the server's usual timeouts.
func extendDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	until := time.Now().Add(importDeadline)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
}

// apiImport imports the body: text/csv (this app's export or Strong's;
// ?unit= and ?tz= for Strong's) or application/json (this app's export).
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request) {
	extendDeadlines(w)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format := map[string]string{"text/csv": "csv", jsonType: "json"}[mt]
	if format == "" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "send the file as text/csv or application/json"})
		return
	}
	o, fields := importOptions(r.URL.Query().Get("unit"), r.URL.Query().Get("tz"))
	if len(fields) > 0 {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid query", Fields: fields})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), importDeadline)
	defer cancel()
	rep, err := s.importFile(ctx, identity(r).UserID, r.Body, format, o)
	if err != nil {
		status, msg := s.importError(w, err)
		writeJSON(w, status, apiError{Error: msg})
		return
	}
	status := http.StatusOK
	if rep.Failed > 0 {
		s.retryAfter(w)
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
}

// importError maps an import's error to a status and a message.
func (s *Server) importError(w http.ResponseWriter, err error) (int, string) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than %d MB; split it", MaxImportBytes>>20)
	case errors.Is(err, errImportBusy):
		s.retryAfter(w)
		return http.StatusTooManyRequests, err.Error()
	case errors.Is(err, errHistoryUnknown):
		s.retryAfter(w)
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, transfer.ErrFormat):
		return http.StatusUnprocessableEntity, err.Error()
	default:
		return http.StatusBadRequest, "the file could not be read: " + err.Error()
	}
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r, "Export and import", "import")
	p.StrongNames = transfer.StrongNames()
	s.render(w, r, http.StatusOK, "import.html", p)
}

func (s *Server) importSubmit(w http.ResponseWriter, r *http.Request) {
	extendDeadlines(w)
	p := s.newPage(r, "Export and import", "import")
	p.StrongNames = transfer.StrongNames()
	file, hdr, err := r.FormFile("file")
	if err != nil {
		status, msg := http.StatusBadRequest, "Choose a file to import."
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("The file is larger than %d MB: split it.", MaxImportBytes>>20)
		}
		p.Problem = msg
		s.render(w, r, status, "import.html", p)
		return
	}
	defer file.Close()
	format := "csv"
	if strings.HasSuffix(strings.ToLower(hdr.Filename), ".json") {
		format = "json"
	}
	o, fields := importOptions(r.FormValue("unit"), r.FormValue("tz"))
	if len(fields) > 0 {
		p.Problem = "Choose the unit (kg or lb) the file's weights are in."
		s.render(w, r, http.StatusBadRequest, "import.html", p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), importDeadline)
	defer cancel()
	rep, err := s.importFile(ctx, p.User, file, format, o)
	if err != nil {
		status, msg := s.importError(w, err)
		p.Problem = "Nothing was imported: " + msg + "."
		s.render(w, r, status, "import.html", p)
		return
	}
	p.Import = &rep
	status := http.StatusOK
	if rep.Failed > 0 {
		s.retryAfter(w)
		status = http.StatusServiceUnavailable
		p.Problem = fmt.Sprintf("%d workouts were not confirmed by the message queue: import the same file again in a moment (what is already imported is skipped).", rep.Failed)
	}
	s.render(w, r, status, "import.html", p)
}
