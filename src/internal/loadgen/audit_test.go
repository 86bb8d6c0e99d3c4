package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/homelab-gitops/homelab/src/internal/store"
	"github.com/homelab-gitops/homelab/src/internal/testenv/mongotest"
)

var mongod *mongotest.Server

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m, &mongod)) }

// TestAuditStore stores two of three 202s and one 503: one 202 is lost,
// the stored 503 is allowed, and an id the load never sent is ignored.
func TestAuditStore(t *testing.T) {
	client, err := store.Connect(store.Config{URI: mongod.URI()})
	if err != nil {
		t.Fatal(err)
	}
	coll := mongod.TestDatabase(t, client).Collection(store.Collection)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "d", "other"} {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": id}); err != nil {
			t.Fatal(err)
		}
	}
	res := Result{Answers: []Answer{
		{ID: "a", Status: 202}, {ID: "b", Status: 202}, {ID: "c", Status: 202},
		{ID: "d", Status: 503, RetryAfter: true}, {ID: "e", Status: 503, RetryAfter: true},
	}}
	start := time.Now()
	a, err := AuditStore(ctx, coll, res, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Error("the audit did not wait for the missing 202")
	}
	if a.Accepted != 3 || a.StoredAccepted != 2 || a.Lost != 1 || a.Duplicates != 0 || a.StoredUnconfirmed != 1 {
		t.Errorf("audit %+v", a)
	}
	if err := a.Check(); err == nil || !strings.Contains(err.Error(), "1 of 3 workouts answered 202 are not stored") {
		t.Errorf("Check = %v", err)
	}
}
