package mongodump

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Sum is a collection's document count and SHA-256 over its documents'
// BSON, concatenated in _id order. Dump computes it over what it writes and
// Restore over what the collection holds afterwards, so equal sums mean the
// restored collection holds exactly the dumped documents, byte for byte.
type Sum struct {
	Documents int64
	SHA256    string
}

type summer struct {
	h hash.Hash
	n int64
}

func newSummer() *summer { return &summer{h: sha256.New()} }

func (s *summer) add(doc []byte) { s.h.Write(doc); s.n++ }

func (s *summer) sum() Sum { return Sum{Documents: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil))} }

// byID reads a collection in _id order (the _id index on MongoDB).
var byID = options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})

// Checksum reads coll in _id order and sums its documents.
func Checksum(ctx context.Context, coll *mongo.Collection) (Sum, error) {
	cur, err := coll.Find(ctx, bson.D{}, byID)
	if err != nil {
		return Sum{}, fmt.Errorf("read %s: %w", namespace(coll), err)
	}
	defer cur.Close(ctx)
	s := newSummer()
	for cur.Next(ctx) {
		s.add(cur.Current)
	}
	if err := cur.Err(); err != nil {
		return Sum{}, fmt.Errorf("read %s: %w", namespace(coll), err)
	}
	return s.sum(), nil
}

func namespace(coll *mongo.Collection) string {
	return coll.Database().Name() + "." + coll.Name()
}
