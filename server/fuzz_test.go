//go:build !js

package main

// Fuzz targets for every parser and encoder of the server. ./build.sh test
// runs each for a few seconds (the "fuzz" suite); the seed corpora live in
// testdata/fuzz/<Target>/ and run as plain tests in every go test.
//
//	go test -run '^$' -fuzz '^FuzzCursor$' -fuzztime 30s ./server

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cometwasm/comet/server/wire"
)

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
		cl := &chatClient{p: newPeer(nil, 256, 2<<20, &ts.ws.queued), rooms: map[string]bool{}, seen: map[string]wire.Cursor{}, tokens: 40, last: time.Now()}
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
