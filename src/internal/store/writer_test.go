package store

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

func TestClassify(t *testing.T) {
	writeErr := func(index, code int) mongo.BulkWriteError {
		return mongo.BulkWriteError{WriteError: mongo.WriteError{Index: index, Code: code, Message: "x"}}
	}
	tests := []struct {
		name      string
		err       error
		want      Result
		rejected  []int
		wantRetry bool
	}{
		{name: "network", err: errors.New("connection refused"), wantRetry: true},
		{name: "duplicates are persisted", err: mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{writeErr(0, 11000), writeErr(3, 11000)}},
			want: Result{Inserted: 3, Duplicates: 2}},
		{name: "a refused document is rejected, the rest persisted", err: mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{writeErr(1, 11000), writeErr(2, 121)}},
			want: Result{Inserted: 3, Duplicates: 1}, rejected: []int{2}},
		{name: "unknown per-document error retries the batch", err: mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{writeErr(1, 11000), writeErr(4, 91)}},
			wantRetry: true},
		{name: "write concern error retries", err: mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64, Message: "waiting for replication timed out"}},
			wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := classify(5, tt.err)
			if tt.wantRetry {
				if err == nil {
					t.Fatalf("classify = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Inserted != tt.want.Inserted || got.Duplicates != tt.want.Duplicates || len(got.Rejected) != len(tt.rejected) {
				t.Errorf("classify = %+v, want %+v rejected %v", got, tt.want, tt.rejected)
			}
			for _, i := range tt.rejected {
				if got.Rejected[i] == nil {
					t.Errorf("document %d not rejected", i)
				}
			}
		})
	}
}
