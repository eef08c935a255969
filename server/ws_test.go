//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/wire"
)

func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

func dialWS(t *testing.T, ctx context.Context, url, origin string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protocols})
}

func TestWSEcho(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL, "echo.v1")
	must(t, err)
	defer c.CloseNow()
	equal(t, "subprotocol", c.Subprotocol(), "echo.v1")
	c.SetReadLimit(-1)
	for _, n := range []int{0, 1, 125, 126, 65536, 4 << 20} {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			p := bytes.Repeat([]byte("a"), n)
			must(t, c.Write(ctx, typ, p))
			gt, got, err := c.Read(ctx)
			must(t, err)
			if gt != typ || !bytes.Equal(got, p) {
				t.Fatalf("echo of %d bytes %v: got %d bytes %v", n, typ, len(got), gt)
			}
		}
	}
	// Over the read limit: the server closes with 1009.
	must(t, c.Write(ctx, websocket.MessageBinary, make([]byte, ts.ws.cfg.EchoReadLimit+1)))
	_, _, err = c.Read(ctx)
	equal(t, "close status over the read limit", websocket.CloseStatus(err), websocket.StatusMessageTooBig)
}

func TestWSOrigin(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"page origin", ts.URL, true},
		{"second origin", ts.URL2, true},
		{"no origin (not a browser)", "", true},
		{"forged origin", "http://evil.example", false},
		{"other scheme, same host", strings.Replace(ts.URL2, "http://", "https://", 1), false},
		{"null origin", "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/ws/echo", "/ws/chat", "/ws/realtime?topic=x"} {
				c, resp, err := dialWS(t, ctx, wsURL(ts.URL, path), tc.origin)
				if tc.ok {
					must(t, err)
					c.CloseNow()
					continue
				}
				if err == nil {
					c.CloseNow()
					t.Fatalf("%s: origin %q accepted", path, tc.origin)
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s: origin %q: %v, want 403", path, tc.origin, err)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("content type %q, want JSON", ct)
				}
			}
		})
	}
	wsWait(t, "stream slots released", func() bool { return ts.streams.Count() == 0 })
}

func TestWSMaxConnections(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.MaxStreams = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var conns []*websocket.Conn
	for range 2 {
		c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
		must(t, err)
		conns = append(conns, c)
	}
	_, resp, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %v, want 503", err)
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	wsWait(t, "slots released", func() bool { return ts.streams.Count() == 0 })
}

func TestWSHeartbeatDropsDeadPeer(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.ws.cfg.PingInterval = 50 * time.Millisecond
	ts.ws.cfg.PingTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A coder/websocket client answers pings only while it reads: this
	// one never reads, so it looks dead.
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	must(t, err)
	defer c.CloseNow()
	wsWait(t, "the dead peer dropped", func() bool { return ts.streams.Count() == 0 })

	// A live one (reading) stays.
	live, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	must(t, err)
	rctx := live.CloseRead(ctx)
	time.Sleep(400 * time.Millisecond) // several ping rounds
	if rctx.Err() != nil || ts.streams.Count() != 1 {
		t.Fatalf("a live peer was dropped (count %d)", ts.streams.Count())
	}
	live.Close(websocket.StatusNormalClosure, "")
}

func TestWSRealtime(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		_, err := ts.hub.Publish("rt", "", json.RawMessage(`{"n":`+string(rune('0'+i))+`}`))
		must(t, err)
	}
	head, _ := ts.hub.Head("rt")
	from := head
	from.Offset = 1
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/realtime?topic=rt&heartbeat=100&cursor="+from.String()), ts.URL)
	must(t, err)
	defer c.CloseNow()
	var types []string
	var offsets []uint64
	for len(types) < 4 {
		_, b, err := c.Read(ctx)
		must(t, err)
		var m struct {
			Type   string
			Offset uint64
		}
		must(t, json.Unmarshal(b, &m))
		types = append(types, m.Type)
		offsets = append(offsets, m.Offset)
	}
	equal(t, "envelopes", strings.Join(types, ","), "_open,message,message,_ping")
	equal(t, "offsets", offsets[1]*10+offsets[2], 23)

	// A cursor of another epoch: "_gap", then close 1000.
	g, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/realtime?topic=rt&cursor=abc-5"), ts.URL)
	must(t, err)
	_, b, err := g.Read(ctx)
	must(t, err)
	if !strings.Contains(string(b), `"type":"_gap"`) || !strings.Contains(string(b), `"reason":"epoch"`) {
		t.Fatalf("gap envelope = %s", b)
	}
	_, _, err = g.Read(ctx)
	equal(t, "close after gap", websocket.CloseStatus(err), websocket.StatusNormalClosure)

	// Bad query: 400 JSON before the upgrade.
	resp, _ := get(t, ts.URL+"/ws/realtime?topic=bad%20topic")
	equal(t, "bad topic status", resp.StatusCode, http.StatusBadRequest)
}

// chatConn is a test chat client.
type chatConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialChat(t *testing.T, ctx context.Context, ts *testServer, name string) *chatConn {
	t.Helper()
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/chat"), ts.URL)
	must(t, err)
	t.Cleanup(func() { c.CloseNow() })
	cc := &chatConn{t: t, c: c}
	if name != "" {
		cc.send(ctx, chatMsg{Type: "login", Name: name, UserID: name + "@example.com"})
		for m := cc.until(ctx, "login", ""); m.From.Name != name; m = cc.until(ctx, "login", "") {
		}
	}
	return cc
}

func (cc *chatConn) send(ctx context.Context, m chatMsg) {
	cc.t.Helper()
	b, _ := json.Marshal(m)
	must(cc.t, cc.c.Write(ctx, websocket.MessageText, b))
}

func (cc *chatConn) read(ctx context.Context) chatMsg {
	cc.t.Helper()
	_, b, err := cc.c.Read(ctx)
	must(cc.t, err)
	var m chatMsg
	must(cc.t, json.Unmarshal(b, &m))
	return m
}

// until reads until a message of type typ (and room, if set) and returns it.
func (cc *chatConn) until(ctx context.Context, typ, room string) chatMsg {
	cc.t.Helper()
	for {
		m := cc.read(ctx)
		if m.Type == typ && (room == "" || m.Room == room) {
			return m
		}
	}
}

func TestChatTargets(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b, c := dialChat(t, ctx, ts, "a"), dialChat(t, ctx, ts, "b"), dialChat(t, ctx, ts, "c")
	// a sees the logins of b and c, b that of c.
	equal(t, "a sees", a.until(ctx, "login", "").From.Name, "b")
	equal(t, "a sees", a.until(ctx, "login", "").From.Name, "c")
	equal(t, "b sees", b.until(ctx, "login", "").From.Name, "c")

	a.send(ctx, chatMsg{Type: "chat", To: "self", Msg: "1 self"})
	a.send(ctx, chatMsg{Type: "chat", To: "others", Msg: "2 others"})
	a.send(ctx, chatMsg{Type: "chat", To: "user", User: "c@example.com", Msg: "3 to c"})
	a.send(ctx, chatMsg{Type: "chat", To: "all", Msg: "4 all"})
	a.send(ctx, chatMsg{Type: "chat", To: "user", User: "nobody", Msg: "5"})
	want := map[*chatConn][]string{
		a: {"1 self", "4 all", "error"},
		b: {"2 others", "4 all"},
		c: {"2 others", "3 to c", "4 all"},
	}
	for cc, msgs := range want {
		for _, w := range msgs {
			m := cc.read(ctx)
			got := m.Msg
			if m.Type == "error" {
				got = "error"
			}
			equal(t, "message", got, w)
			if m.Type == "chat" && (m.From == nil || m.From.UserID != "a@example.com") {
				t.Errorf("from = %+v", m.From)
			}
		}
	}
	// "all" also reached the hub topic.
	head, err := ts.hub.Head(chatAllTopic)
	must(t, err)
	bt, err := ts.rt.Broker().Read(context.Background(), chatAllTopic, wire.Cursor{Epoch: head.Epoch}, 0)
	must(t, err)
	if len(bt.Messages) != 1 || !strings.Contains(string(bt.Messages[0].Data), "4 all") {
		t.Errorf("hub topic chat = %+v", bt.Messages)
	}

	// Force disconnect: the server closes with 4001.
	b.send(ctx, chatMsg{Type: "disconnect"})
	for {
		_, _, err := b.c.Read(ctx)
		if err != nil {
			equal(t, "close status", websocket.CloseStatus(err), wsKicked)
			break
		}
	}
	a.until(ctx, "logout", "")
}

func TestChatRoomsPresenceHistory(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b := dialChat(t, ctx, ts, "a"), dialChat(t, ctx, ts, "b")
	a.send(ctx, chatMsg{Type: "join", Room: "r1"})
	h := a.until(ctx, "history", "r1")
	equal(t, "history of a new room", len(h.Messages), 0)
	p := a.until(ctx, "presence", "r1")
	equal(t, "members", len(p.Members), 1)
	a.send(ctx, chatMsg{Type: "room", Room: "r1", Msg: "m1"})
	m1 := a.until(ctx, "room", "r1")
	b.send(ctx, chatMsg{Type: "room", Room: "r1", Msg: "x"})
	equal(t, "not a member", b.until(ctx, "error", "").Error, `join room "r1" first`)

	b.send(ctx, chatMsg{Type: "join", Room: "r1"})
	h = b.until(ctx, "history", "r1")
	if len(h.Messages) != 1 || h.Messages[0].Msg != "m1" || h.Messages[0].Cursor != m1.Cursor {
		t.Fatalf("history on join = %+v", h.Messages)
	}
	j := a.until(ctx, "join", "r1")
	equal(t, "join event", j.From.UserID, "b@example.com")
	p = a.until(ctx, "presence", "r1")
	if len(p.Members) != 2 || p.Members[0].UserID != "a@example.com" || p.Members[1].UserID != "b@example.com" {
		t.Fatalf("presence = %+v", p.Members)
	}

	// b leaves (its connection drops); a sends two; b rejoins with its
	// cursor and gets exactly those.
	b.c.CloseNow()
	a.until(ctx, "leave", "r1")
	p = a.until(ctx, "presence", "r1")
	equal(t, "members after leave", len(p.Members), 1)
	a.send(ctx, chatMsg{Type: "room", Room: "r1", Msg: "m2"})
	a.send(ctx, chatMsg{Type: "room", Room: "r1", Msg: "m3"})
	a.until(ctx, "room", "r1")
	a.until(ctx, "room", "r1")
	b = dialChat(t, ctx, ts, "b")
	b.send(ctx, chatMsg{Type: "join", Room: "r1", Since: m1.Cursor})
	h = b.until(ctx, "history", "r1")
	if len(h.Messages) != 2 || h.Messages[0].Msg != "m2" || h.Messages[1].Msg != "m3" || h.Gap != nil {
		t.Fatalf("history after reconnect = %+v gap %v", h.Messages, h.Gap)
	}
	// A cursor of a lost epoch: everything kept, and the gap said.
	c := dialChat(t, ctx, ts, "c")
	c.send(ctx, chatMsg{Type: "join", Room: "r1", Since: "deadbeef-9"})
	h = c.until(ctx, "history", "r1")
	if h.Gap == nil || h.Gap.Reason != "epoch" || len(h.Messages) != 3 {
		t.Fatalf("history across an epoch = %d messages, gap %+v", len(h.Messages), h.Gap)
	}
}

func TestChatLimits(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.ws.cfg.Rate, ts.ws.cfg.Burst = 1, 5
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a := dialChat(t, ctx, ts, "a")
		for range 20 {
			b, _ := json.Marshal(chatMsg{Type: "chat", To: "self", Msg: "x"})
			if a.c.Write(ctx, websocket.MessageText, b) != nil {
				break
			}
		}
		for {
			if _, _, err := a.c.Read(ctx); err != nil {
				equal(t, "close status", websocket.CloseStatus(err), wsPolicy)
				break
			}
		}
	})
	t.Run("size", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a := dialChat(t, ctx, ts, "")
		a.c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte(" "), int(ts.ws.cfg.ChatReadLimit)+1))
		_, _, err := a.c.Read(ctx)
		equal(t, "close status", websocket.CloseStatus(err), websocket.StatusMessageTooBig)
	})
	t.Run("slow consumer", func(t *testing.T) {
		ts := newTestServer(t, nil)
		ts.ws.cfg.Rate = 0
		ts.ws.cfg.WriteQueue = 64
		ts.ws.cfg.WriteTimeout = time.Minute // a loaded machine may take long
		// A loaded machine may also run this past a ping; a ping stuck
		// behind the full socket would drop the peer as dead first.
		ts.ws.cfg.PingInterval = time.Hour
		ts.ws.cfg.ChatReadLimit = 128 << 10
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		slow, good := dialChat(t, ctx, ts, "slow"), dialChat(t, ctx, ts, "good")
		for _, cc := range []*chatConn{slow, good} {
			cc.send(ctx, chatMsg{Type: "join", Room: "r"})
		}
		good.until(ctx, "history", "r")
		good.c.SetReadLimit(-1)
		// 4000 × 4 KB = 16 MB: more than the socket buffers hold. good
		// sends in windows of 16 and reads them back, so its own queue
		// stays short while slow's overflows.
		big := strings.Repeat("z", 4000)
		const n = 4000
		for i := 0; i < n; i += 16 {
			for range 16 {
				good.send(ctx, chatMsg{Type: "room", Room: "r", Msg: big})
			}
			for range 16 {
				good.until(ctx, "room", "r")
			}
		}
		// The room went on; now the slow one reads and finds 4013.
		slow.c.SetReadLimit(-1)
		for {
			if _, _, err := slow.c.Read(ctx); err != nil {
				equal(t, "slow consumer close", websocket.CloseStatus(err), wsTooSlow)
				break
			}
		}
	})
}

func TestWSTestHooks(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server closes 4001 "kicked" after "bye".
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/test/ws/close?code=4001&reason=kicked"), ts.URL)
	must(t, err)
	_, b, err := c.Read(ctx)
	must(t, err)
	equal(t, "first message", string(b), "bye")
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "kicked" {
		t.Fatalf("close = %v, want 4001 kicked", err)
	}
	// A client close is recorded by id.
	e, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo?id=t1"), ts.URL)
	must(t, err)
	e.Close(4002, "bye now")
	resp, body := get(t, ts.URL+"/test/ws/closed?id=t1")
	equal(t, "status", resp.StatusCode, http.StatusOK)
	equal(t, "recorded", strings.TrimSpace(string(body)), `{"code":4002,"reason":"bye now"}`)
}

// wsWait polls cond for up to 5s.
func wsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
