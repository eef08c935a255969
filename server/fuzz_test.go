//go:build !js

package main

// Fuzz targets for every parser and encoder of the server. ./build.sh test
// runs each for a few seconds (the "fuzz" suite); the seed corpora live in
// testdata/fuzz/<Target>/ and run as plain tests in every go test.
//
//	go test -run '^$' -fuzz '^FuzzCursor$' -fuzztime 30s ./server

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cometwasm/comet/server/hub"
)

// FuzzCursor: ParseCursor never panics, refuses with ErrCursor, and what
// it accepts prints back to a text that parses to the same cursor.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "9f86d081884c7d65-42", "a-0", "-1", "a--1", "a-18446744073709551616",
		"a-18446744073709551615", "a-+1", "a-007", "é-1", "a\x00-1", "a-1\n", "a-1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := hub.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, hub.ErrCursor) {
				t.Fatalf("ParseCursor(%q): error %v is not ErrCursor", s, err)
			}
			return
		}
		back, err := hub.ParseCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCursor(%q) = %+v, whose text %q parses to %+v, %v", s, c, c.String(), back, err)
		}
		var viaText hub.Cursor
		if err := viaText.UnmarshalText([]byte(s)); err != nil || viaText != c {
			t.Fatalf("UnmarshalText(%q) = %+v, %v; ParseCursor gave %+v", s, viaText, err, c)
		}
	})
}

// FuzzEnvelope: any data a publisher sends (valid JSON) comes back from
// the hub in an envelope whose data is the same JSON value, and the
// envelope survives a JSON round trip byte-identical.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{`null`, `"x"`, `{"a":[1,2,{"b":"\u2028"}]}`, `"\n\nevent: x\ndata: y"`,
		`1e400`, `"\ud800"`, `[]`, `{"":""}`, `"<script>"`} {
		f.Add("chat", "message", s)
	}
	f.Fuzz(func(t *testing.T, topic, typ, data string) {
		if !hub.ValidTopic(topic) || !json.Valid([]byte(data)) {
			return
		}
		h := hub.New(hub.Config{})
		defer h.Close()
		m, err := h.Publish(topic, typ, json.RawMessage(data))
		if !utf8.ValidString(typ) || !utf8.ValidString(data) {
			// Not UTF-8: refused, or it would reach the wire as is.
			if err == nil {
				t.Fatalf("Publish(%q, %q, %q) accepted invalid UTF-8", topic, typ, data)
			}
			return
		}
		if typ != "" && !hub.ValidType(typ) { // "" means "message"
			if !errors.Is(err, hub.ErrType) {
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
		wire, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", m, err)
		}
		if !utf8.Valid(wire) {
			t.Fatalf("envelope is not UTF-8: %q", wire)
		}
		var back hub.Message
		if err := json.Unmarshal(wire, &back); err != nil {
			t.Fatalf("envelope %s does not parse: %v", wire, err)
		}
		if typ == "" {
			typ = "message"
		}
		if back.Topic != topic || back.Type != typ || back.Offset != m.Offset || back.Epoch != m.Epoch {
			t.Fatalf("envelope %s came back as %+v", wire, back)
		}
		if !sameJSON(t, back.Data, []byte(data)) {
			t.Fatalf("data %q came back as %q", data, back.Data)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(again, wire) {
			t.Fatalf("envelope not stable: %s then %s", wire, again)
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

// FuzzChatMessage feeds any decoded client message to the chat of a real
// server, as a logged-in client: it never panics, and everything it sends
// back is valid UTF-8 JSON of a documented type, errors with a reason.
func FuzzChatMessage(f *testing.F) {
	for _, s := range []string{`{"type":"chat","msg":"hi","to":"all"}`, `{"type":"chat","msg":"hi","to":"user","user":"x"}`,
		`{"type":"join","room":"lobby","since":"abc-1"}`, `{"type":"join","room":"../x"}`, `{"type":"room","room":"lobby","msg":"\u0000"}`,
		`{"type":"leave","room":"lobby"}`, `{"type":"login","name":"\u202e","userid":""}`, `{"type":"disconnect"}`,
		`{"type":"chat","msg":"` + "\xff" + `"}`, `{"type":"nope"}`, `{"type":"join","room":"lobby","since":"-1"}`} {
		f.Add([]byte(s))
	}
	ts := newTestServer(f, nil)
	cs := ts.ws.chat
	known := map[string]bool{"login": true, "logout": true, "chat": true, "room": true, "history": true,
		"join": true, "leave": true, "presence": true, "error": true}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m chatMsg
		if json.Unmarshal(data, &m) != nil {
			return // answered with an "error" message; TestHostile covers it
		}
		cl := &chatClient{p: newPeer(nil, 256), rooms: map[string]bool{}, tokens: 40, last: time.Now()}
		cs.mu.Lock()
		cs.clients[cl] = true
		cs.mu.Unlock()
		defer cs.remove(cl)
		cs.handle(cl, chatMsg{Type: "login", Name: "fuzz", UserID: "fuzz"})
		stop := cs.handle(cl, m)
		if stop != (m.Type == "disconnect") {
			t.Fatalf("handle(%q) stop = %v", data, stop)
		}
		for {
			select {
			case b := <-cl.p.out:
				var out chatMsg
				if !utf8.Valid(b) || json.Unmarshal(b, &out) != nil {
					t.Fatalf("handle(%q) sent %q: not UTF-8 JSON", data, b)
				}
				if !known[out.Type] || out.Type == "error" && out.Error == "" {
					t.Fatalf("handle(%q) sent %q: unknown type or error without a reason", data, b)
				}
			default:
				return
			}
		}
	})
}
