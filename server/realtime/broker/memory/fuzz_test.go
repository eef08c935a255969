//go:build !js

package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

// FuzzEnvelope: any data a publisher sends (valid JSON) comes back from
// the memory broker in an envelope whose data is the same JSON value, and the
// envelope survives a JSON round trip byte-identical.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{`null`, `"x"`, `{"a":[1,2,{"b":"\u2028"}]}`, `"\n\nevent: x\ndata: y"`,
		`1e400`, `"\ud800"`, `[]`, `{"":""}`, `"<script>"`} {
		f.Add("chat", "message", s)
	}
	f.Fuzz(func(t *testing.T, topic, typ, data string) {
		if !wire.ValidTopic(topic) || !json.Valid([]byte(data)) {
			return
		}
		b := memory.New(broker.Limits{})
		defer b.Close()
		r, err := b.Publish(context.Background(), topic, []wire.Draft{{Type: typ, Data: json.RawMessage(data)}}, broker.PublishOptions{})
		if !utf8.ValidString(typ) || !utf8.ValidString(data) {
			// Not UTF-8: refused, or it would reach the wire as is.
			if err == nil {
				t.Fatalf("Publish(%q, %q, %q) accepted invalid UTF-8", topic, typ, data)
			}
			return
		}
		if typ != "" && !wire.ValidType(typ) { // "" means "message"
			if !errors.Is(err, broker.ErrType) {
				t.Fatalf("Publish with type %q: %v, want ErrType", typ, err)
			}
			return
		}
		if err != nil {
			if len(data) > 64<<10 {
				return // over the message size limit
			}
			t.Fatalf("Publish(%q, %q, %q): %v", topic, typ, data, err)
		}
		batch, err := b.Read(context.Background(), topic, wire.Cursor{Epoch: r.Cursor.Epoch}, 0)
		if err != nil || len(batch.Messages) != 1 {
			t.Fatalf("Read after Publish: %+v, %v", batch, err)
		}
		m := batch.Messages[0]
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		if !utf8.Valid(enc) {
			t.Fatalf("envelope is not UTF-8: %q", enc)
		}
		var back wire.Message
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("envelope %s does not parse: %v", enc, err)
		}
		if typ == "" {
			typ = "message"
		}
		if back.Topic != topic || back.Type != typ || back.Offset != m.Offset || back.Epoch != m.Epoch {
			t.Fatalf("envelope %s came back as %+v", enc, back)
		}
		if !sameJSON(t, back.Data, []byte(data)) {
			t.Fatalf("data %q came back as %q", data, back.Data)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(again, enc) {
			t.Fatalf("envelope not stable: %s then %s", enc, again)
		}
	})
}

// sameJSON reports whether a and b hold the same JSON value (numbers
// compared as text, so 1e400 is fine).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	decode := func(p []byte) any {
		d := json.NewDecoder(bytes.NewReader(p))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %q: %v", p, err)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}
