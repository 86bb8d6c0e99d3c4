package web

import "testing"

func TestIdempotencyCacheForgetsTheOldest(t *testing.T) {
	c := newIdempotencyCache(2)
	fp := func(b byte) fingerprint { return fingerprint{b} }
	c.add("ana", "a", fp(1))
	c.add("ana", "b", fp(2))
	c.add("ana", "a", fp(9)) // already there: the first request stays
	c.add("bob", "a", fp(3))
	if _, ok := c.lookup("ana", "a"); ok {
		t.Error("the oldest entry was kept beyond the bound")
	}
	if got, ok := c.lookup("ana", "b"); !ok || got != fp(2) {
		t.Errorf("ana/b = %v, %v", got, ok)
	}
	if got, ok := c.lookup("bob", "a"); !ok || got != fp(3) {
		t.Errorf("bob/a = %v, %v (keys are per user)", got, ok)
	}
	c.add("ana", "c", fp(4))
	if _, ok := c.lookup("ana", "b"); ok {
		t.Error("the ring did not wrap")
	}
}
