package mongodump_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/homelab-gitops/homelab/src/internal/mongodump"
)

func rawDocs(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i := range n {
		doc, err := bson.Marshal(bson.D{{Key: "_id", Value: i}, {Key: "name", Value: "doc"}})
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(doc)
	}
	return buf.Bytes()
}

func TestDocumentReaderNamesFileAndOffset(t *testing.T) {
	good := rawDocs(t, 3)
	docLen := len(good) / 3
	badLength := bytes.Clone(good)
	binary.LittleEndian.PutUint32(badLength[docLen:], 3)
	badBody := bytes.Clone(good)
	badBody[2*docLen+4] = 0x7f // an element type that does not exist
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated document", good[:len(good)-3], "offset " + strconv.Itoa(2*docLen) + ": truncated document"},
		{"truncated length", append(bytes.Clone(good), 1, 2), "offset " + strconv.Itoa(3*docLen) + ": truncated document length"},
		{"impossible length", badLength, "offset " + strconv.Itoa(docLen) + ": invalid document length 3"},
		{"invalid element", badBody, "offset " + strconv.Itoa(2*docLen) + ": invalid document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "workouts.bson")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := mongodump.OpenDocuments(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var read int
			for {
				_, err = r.Next()
				if err != nil {
					break
				}
				read++
			}
			if err == nil || !strings.Contains(err.Error(), path+": "+tt.want) {
				t.Fatalf("after %d documents: error %v, want one containing %q", read, err, path+": "+tt.want)
			}
		})
	}
}

// TestRestoreRecreatesIndexes restores a dump written by hand in mongodump's
// shape: the indexes of its metadata, with their options, exist afterwards;
// a corrupt .bson file fails the restore naming the file; a merge restore
// fills in deleted documents and keeps newer ones.
func TestRestoreRecreatesIndexes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := startStore(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o700); err != nil {
		t.Fatal(err)
	}
	// As mongodump writes it, with the "v" and "ns" the target must drop.
	meta := `{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"},` +
		`{"v":{"$numberInt":"2"},"key":{"email":{"$numberInt":"1"}},"name":"email_unique","unique":true,"ns":"app.users"},` +
		`{"v":{"$numberInt":"2"},"key":{"team":{"$numberInt":"1"},"joined":{"$numberInt":"-1"}},"name":"team_joined"}],` +
		`"uuid":"0123456789abcdef0123456789abcdef","collectionName":"users","type":"collection"}`
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "app", name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users.metadata.json", []byte(meta))
	var users bytes.Buffer
	for i, email := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		doc, _ := bson.Marshal(bson.D{{Key: "_id", Value: i}, {Key: "email", Value: email}, {Key: "team", Value: "x"}})
		users.Write(doc)
	}
	write("users.bson", users.Bytes())

	got, err := mongodump.Restore(ctx, client, mongodump.RestoreOptions{Dir: dir, Mode: mongodump.Drop})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Documents != 3 || got[0].Indexes != 3 {
		t.Fatalf("restored %+v, want app.users with 3 documents and 3 indexes", got)
	}
	coll := client.Database("app").Collection("users")
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]mongo.IndexSpecification{}
	for _, s := range specs {
		byName[s.Name] = s
	}
	if s, ok := byName["email_unique"]; !ok || s.Unique == nil || !*s.Unique {
		t.Errorf("email_unique: %+v, want a unique index", s)
	}
	if _, ok := byName["team_joined"]; !ok {
		t.Errorf("team_joined missing: %v", byName)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 9}, {Key: "email", Value: "a@example.org"}}); !mongo.IsDuplicateKeyError(err) {
		t.Errorf("insert of a second a@example.org: %v, want a duplicate key error from the restored unique index", err)
	}

	// Merge: a deleted document comes back, a newer one stays, the
	// existing indexes are not created again.
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 3}, {Key: "email", Value: "d@example.org"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mongodump.Restore(ctx, client, mongodump.RestoreOptions{Dir: dir, Mode: mongodump.Merge}); err != nil {
		t.Fatalf("merge restore: %v", err)
	}
	if n, err := coll.CountDocuments(ctx, bson.D{}, options.Count()); err != nil || n != 4 {
		t.Errorf("after merge: %d documents (%v), want 4", n, err)
	}

	// A corrupt file fails the restore, naming it and the offset.
	data := users.Bytes()
	write("users.bson", data[:len(data)-2])
	_, err = mongodump.Restore(ctx, client, mongodump.RestoreOptions{Dir: dir, Mode: mongodump.Drop})
	want := filepath.Join(dir, "app", "users.bson") + ": offset "
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("restore of a truncated file: %v, want an error naming %q", err, want)
	}
}

// TestMetadataShape checks the metadata against mongodump's own output for
// the same collection: field order and canonical Extended JSON, which
// mongorestore parses.
func TestMetadataShape(t *testing.T) {
	m := mongodump.Metadata{
		Indexes:        []bson.D{{{Key: "v", Value: int32(2)}, {Key: "key", Value: bson.D{{Key: "_id", Value: int32(1)}}}, {Key: "name", Value: "_id_"}}},
		UUID:           "0123456789abcdef0123456789abcdef",
		CollectionName: "workouts",
		Type:           "collection",
	}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"uuid":"0123456789abcdef0123456789abcdef","collectionName":"workouts","type":"collection"}`
	if string(got) != want {
		t.Errorf("metadata\n got %s\nwant %s", got, want)
	}
	empty, err := mongodump.Metadata{CollectionName: "c"}.Marshal()
	if err != nil || !strings.Contains(string(empty), `"indexes":[]`) {
		t.Errorf("metadata without indexes: %s (%v), want an empty indexes array", empty, err)
	}
}
