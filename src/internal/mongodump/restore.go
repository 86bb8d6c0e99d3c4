package mongodump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Mode says what Restore does with documents already in a collection.
type Mode int

const (
	// Drop drops each collection before restoring it (mongorestore --drop):
	// the collection ends up holding exactly the dump.
	Drop Mode = iota
	// Merge inserts the dumped documents whose _id the collection lacks and
	// leaves the others as they are (mongorestore without --drop): it fills
	// in what was lost and keeps what was written after the dump.
	Merge
)

// RestoreOptions say what to restore from where.
type RestoreOptions struct {
	// Dir holds <db>/<collection>.bson[.gz] and .metadata.json[.gz].
	Dir string
	// Databases to restore; empty means every database directory in Dir.
	Databases []string
	Mode      Mode
	Logger    *slog.Logger
}

// Batches stay well under the 48 MB message limit and the 100,000
// operations of one write command.
const (
	batchDocuments = 1000
	batchBytes     = 8 << 20
)

// Restore loads every collection of the dump in o.Dir, recreates its
// indexes and returns, per collection, the sum of what it holds afterwards.
func Restore(ctx context.Context, client *mongo.Client, o RestoreOptions) ([]Collection, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("read dump: %w", err)
	}
	var out []Collection
	found := 0
	for _, e := range entries {
		if !e.IsDir() || (len(o.Databases) > 0 && !slices.Contains(o.Databases, e.Name())) {
			continue
		}
		found++
		colls, err := collectionFiles(filepath.Join(o.Dir, e.Name()))
		if err != nil {
			return out, err
		}
		for _, f := range colls {
			if strings.HasPrefix(f.name, "system.") {
				logger.Info("skipped", "namespace", e.Name()+"."+f.name)
				continue
			}
			c, err := restoreCollection(ctx, client.Database(e.Name()), f, o.Mode)
			if err != nil {
				return out, err
			}
			logger.Info("restored", "namespace", c.Namespace(), "documents", c.Documents,
				"indexes", c.Indexes, "sha256", c.SHA256, "seconds", c.Duration.Seconds())
			out = append(out, c)
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("%s holds no database directory to restore", o.Dir)
	}
	return out, nil
}

// files are a collection's dump files; either may be missing.
type files struct {
	name, data, metadata string
}

func collectionFiles(dir string) ([]files, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read dump: %w", err)
	}
	byName := map[string]*files{}
	get := func(name string) *files {
		if byName[name] == nil {
			byName[name] = &files{name: name}
		}
		return byName[name]
	}
	for _, e := range entries {
		n, path := e.Name(), filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
		case strings.HasSuffix(n, ".metadata.json"), strings.HasSuffix(n, ".metadata.json.gz"):
			get(strings.TrimSuffix(strings.TrimSuffix(n, ".gz"), ".metadata.json")).metadata = path
		case strings.HasSuffix(n, ".bson"), strings.HasSuffix(n, ".bson.gz"):
			get(strings.TrimSuffix(strings.TrimSuffix(n, ".gz"), ".bson")).data = path
		}
	}
	var out []files
	for _, f := range byName {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b files) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

func restoreCollection(ctx context.Context, db *mongo.Database, f files, mode Mode) (Collection, error) {
	start := time.Now()
	var meta Metadata
	if f.metadata != "" {
		m, err := ReadMetadata(f.metadata)
		if err != nil {
			return Collection{}, err
		}
		meta = m
		if meta.CollectionName != "" {
			// mongodump shortens the file names of long collection names.
			f.name = meta.CollectionName
		}
	}
	coll := db.Collection(f.name)
	ns := namespace(coll)
	if mode == Drop {
		if err := coll.Drop(ctx); err != nil {
			return Collection{}, fmt.Errorf("drop %s: %w", ns, err)
		}
		create := append(bson.D{{Key: "create", Value: f.name}}, meta.Options...)
		if err := db.RunCommand(ctx, create).Err(); err != nil {
			return Collection{}, fmt.Errorf("create %s with the options of %s: %w", ns, f.metadata, err)
		}
	}
	if f.data != "" {
		if err := loadDocuments(ctx, coll, f.data, mode); err != nil {
			return Collection{}, err
		}
	}
	n, err := createIndexes(ctx, coll, meta.Indexes)
	if err != nil {
		return Collection{}, fmt.Errorf("%s: %w", f.metadata, err)
	}
	sum, err := Checksum(ctx, coll)
	if err != nil {
		return Collection{}, err
	}
	return Collection{Database: db.Name(), Name: f.name, Sum: sum, Indexes: n, Duration: time.Since(start)}, nil
}

func loadDocuments(ctx context.Context, coll *mongo.Collection, path string, mode Mode) error {
	r, err := OpenDocuments(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var batch []bson.Raw
	size := 0
	for {
		doc, err := r.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if doc != nil {
			batch = append(batch, doc)
			size += len(doc)
		}
		if len(batch) > 0 && (doc == nil || len(batch) == batchDocuments || size >= batchBytes) {
			if err := write(ctx, coll, batch, mode); err != nil {
				return fmt.Errorf("restore %s into %s: %w", path, namespace(coll), err)
			}
			batch, size = batch[:0], 0
		}
		if doc == nil {
			return nil
		}
	}
}

func write(ctx context.Context, coll *mongo.Collection, batch []bson.Raw, mode Mode) error {
	docs := make([]any, len(batch))
	for i, d := range batch {
		docs[i] = d
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if mode == Merge && onlyDuplicates(err) {
		return nil
	}
	return err
}

// onlyDuplicates reports whether every write error of err is a duplicate _id.
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if !we.HasErrorCode(11000) {
			return false
		}
	}
	return true
}

// createIndexes creates the dumped indexes the collection lacks and returns
// how many indexes it has. Asking only for missing ones keeps an upsert
// restore idempotent (FerretDB drops the connection when createIndexes names
// an index that exists).
func createIndexes(ctx context.Context, coll *mongo.Collection, indexes []bson.D) (int, error) {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return 0, fmt.Errorf("list indexes of %s: %w", namespace(coll), err)
	}
	have := map[string]bool{}
	for _, s := range specs {
		have[s.Name] = true
	}
	var missing bson.A
	for _, ix := range indexes {
		name := IndexName(ix)
		if name == "" {
			return 0, fmt.Errorf("index of %s without a name: %v", namespace(coll), ix)
		}
		if have[name] {
			continue
		}
		// "v" and "ns" describe the source server's index; the target
		// chooses its own version.
		spec := slices.DeleteFunc(slices.Clone(ix), func(e bson.E) bool { return e.Key == "v" || e.Key == "ns" })
		missing = append(missing, spec)
		have[name] = true
	}
	if len(missing) > 0 {
		cmd := bson.D{{Key: "createIndexes", Value: coll.Name()}, {Key: "indexes", Value: missing}}
		if err := coll.Database().RunCommand(ctx, cmd).Err(); err != nil {
			return 0, fmt.Errorf("create indexes on %s: %w", namespace(coll), err)
		}
	}
	return len(have), nil
}
