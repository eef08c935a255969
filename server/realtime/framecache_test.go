//go:build !js

package realtime

import (
	"encoding/json"
	"testing"

	"github.com/cometwasm/comet/server/wire"
)

// TestFrameCacheEncodesOnce: the connections of one message share one
// encoding per kind; other messages, kinds and control envelopes do not.
func TestFrameCacheEncodesOnce(t *testing.T) {
	t.Parallel()
	c := newFrameCache()
	encodes := 0
	enc := func(m wire.Message) []byte { encodes++; return envelopeJSON(m) }
	m := wire.Message{Topic: "t", Epoch: "e", Offset: 7, Type: "message", Data: json.RawMessage(`1`)}
	a := c.frame(m, frameJSON, enc)
	for range 1000 { // a thousand connections
		if b := c.frame(m, frameJSON, enc); &b[0] != &a[0] {
			t.Fatal("a connection got its own encoding")
		}
	}
	if encodes != 1 {
		t.Fatalf("%d encodes for one message, want 1", encodes)
	}
	c.frame(wire.Message{Topic: "t", Epoch: "e", Offset: 8, Data: json.RawMessage(`2`)}, frameJSON, enc)
	c.frame(m, frameJSONLine, enc)
	c.frame(wire.Control("t", wire.TypeOpen, m.Cursor()), frameJSON, enc)
	c.frame(wire.Control("t", wire.TypeOpen, m.Cursor()), frameJSON, enc)
	if encodes != 5 {
		t.Fatalf("%d encodes, want 5 (another offset, another kind, two controls)", encodes)
	}
	if got := string(c.frame(m, frameJSON, enc)); got != `{"topic":"t","offset":7,"epoch":"e","type":"message","data":1}` {
		t.Fatalf("cached %s", got)
	}
}
