//go:build !js

package main

// Fuzz targets for every parser and encoder of the server. ./build.sh test
// runs each for a few seconds (the "fuzz" suite); the seed corpora live in
// testdata/fuzz/<Target>/ and run as plain tests in every go test.
//
//	go test -run '^$' -fuzz '^FuzzCursor$' -fuzztime 30s ./server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/wire"
)

// FuzzChatCommand sends any text message to a chat session of a real
// server (GET /realtime/session/ws, what the demo chat speaks), followed
// by a publish to a room: every line the server sends back parses, every
// error has a code and a reason, and the publish is answered (or the
// connection closed with a clear code, then a new one works).
func FuzzChatCommand(f *testing.F) {
	for _, s := range []string{`{"op":"sub","t":1,"topic":"chat:lobby","from":"oldest","presence":true}`,
		`{"op":"pub","topic":"dm:bob","type":"msg","data":{"text":"hi"},"key":"k1"}`, `{"op":"who","t":1}`,
		`{"op":"sub","t":0,"topic":"chat:../x"}`, `{"op":"sub","t":2,"topic":"chat:x","from":"-1"}`, `{"op":"unsub","t":1}`,
		`[{"op":"sub","t":3,"topic":"_n:x"},{"op":"pub","topic":"clock","data":1}]`, `{"op":"pub","topic":"chat:x","type":"_gap","data":{}}`,
		`{"op":"pub","topic":"chat:x","data":"\ud800"}`, `{"op":"nope"}`, `{`, "\xff"} {
		f.Add([]byte(s))
	}
	ts := newTestServer(f, nil)
	var c *websocket.Conn
	dial := func(t *testing.T, ctx context.Context) {
		var err error
		c, _, err = websocket.Dial(ctx, wsURL(ts.URL, "/realtime/session/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(-1)
	}
	var n uint64
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if c == nil {
			dial(t, ctx)
		}
		n++
		id := n + 1<<40
		sync, _ := json.Marshal(wire.Command{Op: wire.OpPublish, ID: id, Topic: "chat:fuzz", Type: "msg", Data: json.RawMessage(`{"text":"sync"}`), Key: "sync-" + strconv.FormatUint(n, 10)})
		typ := websocket.MessageText
		if !utf8.Valid(data) {
			typ = websocket.MessageBinary
		}
		if c.Write(ctx, typ, data) != nil || c.Write(ctx, websocket.MessageText, sync) != nil {
			c.CloseNow()
			c = nil
			return
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				code := websocket.CloseStatus(err)
				if code < 1000 {
					t.Fatalf("after %q the session ended without a close code: %v", data, err)
				}
				c.CloseNow()
				c = nil
				return
			}
			answered := false
			if err := wire.SplitLines(b, func(line []byte) error {
				l, err := wire.ParseLine(line)
				if err != nil {
					return err
				}
				if !l.IsMessage && l.Frame.Op == wire.OpError && (l.Frame.Code == "" || l.Frame.Error == "") {
					t.Fatalf("after %q: an error without a code or reason: %q", data, line)
				}
				if !l.IsMessage && l.Frame.ID == id {
					answered = true
				}
				return nil
			}); err != nil {
				t.Fatalf("after %q the server sent %q: %v", data, b, err)
			}
			if answered {
				return
			}
		}
	})
	if c != nil {
		c.CloseNow()
	}
}
