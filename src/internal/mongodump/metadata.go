package mongodump

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Metadata is a collection's <name>.metadata.json, in the shape mongodump
// writes and mongorestore reads (field order included).
type Metadata struct {
	Options bson.D `bson:"options,omitempty"`
	// Indexes are the listIndexes documents, verbatim; never null, as the
	// upstream tools expect an array.
	Indexes        []bson.D `bson:"indexes"`
	UUID           string   `bson:"uuid,omitempty"`
	CollectionName string   `bson:"collectionName"`
	Type           string   `bson:"type,omitempty"`
}

// Marshal returns the metadata as canonical Extended JSON, as mongodump does.
func (m Metadata) Marshal() ([]byte, error) {
	if m.Indexes == nil {
		m.Indexes = []bson.D{}
	}
	return bson.MarshalExtJSON(m, true, false)
}

// ReadMetadata reads a .metadata.json or .metadata.json.gz file.
func ReadMetadata(path string) (Metadata, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Metadata{}, err
	}
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return Metadata{}, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = io.ReadAll(gz); err != nil {
			return Metadata{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	var m Metadata
	if err := bson.UnmarshalExtJSON(data, false, &m); err != nil {
		return Metadata{}, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// IndexName returns an index document's name.
func IndexName(index bson.D) string {
	for _, e := range index {
		if e.Key == "name" {
			s, _ := e.Value.(string)
			return s
		}
	}
	return ""
}

// uuidString renders listCollections' info.uuid as mongodump does: 32 hex
// digits, or "" when the server gives none (FerretDB, old servers).
func uuidString(v bson.RawValue) string {
	if v.Type != bson.TypeBinary {
		return ""
	}
	subtype, data, ok := v.BinaryOK()
	if !ok || subtype != bson.TypeBinaryUUID {
		return ""
	}
	return hex.EncodeToString(data)
}
