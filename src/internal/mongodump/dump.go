package mongodump

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// systemDatabases hold the server's own state; mongodump leaves them out
// unless asked for by name, and so does Dump.
var systemDatabases = []string{"admin", "config", "local"}

// DumpOptions say what to dump where.
type DumpOptions struct {
	// Dir receives <db>/<collection>.bson and .metadata.json; it is
	// created if missing.
	Dir string
	// Databases to dump; empty means every database but admin, config and
	// local.
	Databases []string
	// Gzip compresses both files of every collection, as mongodump --gzip.
	Gzip   bool
	Logger *slog.Logger
}

// Collection is the outcome for one collection of a dump or a restore.
type Collection struct {
	Database, Name string
	Sum
	Indexes  int
	Duration time.Duration
}

// Namespace is "<db>.<collection>".
func (c Collection) Namespace() string { return c.Database + "." + c.Name }

// collectionInfo is the part of a listCollections document a dump needs.
type collectionInfo struct {
	Name    string `bson:"name"`
	Type    string `bson:"type"`
	Options bson.D `bson:"options"`
	Info    struct {
		UUID bson.RawValue `bson:"uuid"`
	} `bson:"info"`
}

// Dump writes the collections of the databases to o.Dir, one after the
// other, each read by a single cursor in _id order with the client's read
// preference (secondaryPreferred for the project's clients).
func Dump(ctx context.Context, client *mongo.Client, o DumpOptions) ([]Collection, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dbs := o.Databases
	if len(dbs) == 0 {
		names, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		for _, n := range names {
			if !slices.Contains(systemDatabases, n) {
				dbs = append(dbs, n)
			}
		}
	}
	slices.Sort(dbs)
	var out []Collection
	for _, name := range dbs {
		db := client.Database(name)
		cur, err := db.ListCollections(ctx, bson.D{})
		if err != nil {
			return out, fmt.Errorf("list collections of %s: %w", name, err)
		}
		var infos []collectionInfo
		if err := cur.All(ctx, &infos); err != nil {
			return out, fmt.Errorf("list collections of %s: %w", name, err)
		}
		slices.SortFunc(infos, func(a, b collectionInfo) int { return strings.Compare(a.Name, b.Name) })
		dir := filepath.Join(o.Dir, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return out, err
		}
		for _, info := range infos {
			if strings.HasPrefix(info.Name, "system.") || (info.Type != "" && info.Type != "collection") {
				logger.Info("skipped", "namespace", name+"."+info.Name, "type", info.Type)
				continue
			}
			c, err := dumpCollection(ctx, db.Collection(info.Name), info, dir, o.Gzip)
			if err != nil {
				return out, err
			}
			logger.Info("dumped", "namespace", c.Namespace(), "documents", c.Documents,
				"indexes", c.Indexes, "sha256", c.SHA256, "seconds", c.Duration.Seconds())
			out = append(out, c)
		}
	}
	return out, nil
}

func dumpCollection(ctx context.Context, coll *mongo.Collection, info collectionInfo, dir string, compress bool) (Collection, error) {
	start := time.Now()
	ns := namespace(coll)
	suffix := ""
	if compress {
		suffix = ".gz"
	}
	// The indexes are read first, as mongodump does: an index created
	// during the dump is then missing rather than built over documents the
	// dump does not hold.
	var indexes []bson.D
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		return Collection{}, fmt.Errorf("list indexes of %s: %w", ns, err)
	}
	if err := cur.All(ctx, &indexes); err != nil {
		return Collection{}, fmt.Errorf("list indexes of %s: %w", ns, err)
	}
	meta := Metadata{Options: info.Options, Indexes: indexes, UUID: uuidString(info.Info.UUID), CollectionName: info.Name, Type: "collection"}
	js, err := meta.Marshal()
	if err != nil {
		return Collection{}, fmt.Errorf("metadata of %s: %w", ns, err)
	}
	if err := writeFile(filepath.Join(dir, info.Name+".metadata.json"+suffix), js, compress); err != nil {
		return Collection{}, err
	}

	w, err := createFile(filepath.Join(dir, info.Name+".bson"+suffix), compress)
	if err != nil {
		return Collection{}, err
	}
	docs, err := coll.Find(ctx, bson.D{}, byID)
	if err != nil {
		w.abort()
		return Collection{}, fmt.Errorf("read %s: %w", ns, err)
	}
	defer docs.Close(ctx)
	s := newSummer()
	for docs.Next(ctx) {
		if _, err := w.Write(docs.Current); err != nil {
			w.abort()
			return Collection{}, fmt.Errorf("write %s: %w", w.path, err)
		}
		s.add(docs.Current)
	}
	if err := docs.Err(); err != nil {
		w.abort()
		return Collection{}, fmt.Errorf("read %s after %d documents: %w", ns, s.n, err)
	}
	if err := w.Close(); err != nil {
		return Collection{}, err
	}
	return Collection{Database: coll.Database().Name(), Name: info.Name, Sum: s.sum(), Indexes: len(indexes), Duration: time.Since(start)}, nil
}

func writeFile(path string, data []byte, compress bool) error {
	w, err := createFile(path, compress)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return w.Close()
}
