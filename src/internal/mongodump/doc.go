// Package mongodump dumps and restores MongoDB databases in mongodump's
// directory layout, so that the upstream mongorestore reads what Dump writes
// and Restore reads what the upstream mongodump writes:
//
//	<dir>/<db>/<collection>.bson            concatenated BSON documents
//	<dir>/<db>/<collection>.metadata.json   options, indexes, uuid (canonical Extended JSON)
//
// With gzip, both files carry a .gz suffix, as mongodump --gzip writes them.
//
// What a dump contains: each collection is read by one cursor in _id order,
// so a collection's file holds the documents that cursor saw. Documents
// inserted or changed while the cursor runs may or may not be in it, and two
// collections are read at different times. There is no point in time common
// to the whole dump: on a replica set, mongodump --oplog would add the oplog
// entries written during the dump so that mongorestore --oplogReplay brings
// every collection to the dump's end time. This package does not implement
// it (the embedded test store has no oplog to test it against); the fitness
// data is one collection of immutable documents keyed by a client UUID, for
// which a per-collection snapshot loses nothing but the writes made after
// the cursor passed their _id.
package mongodump
