//go:build !js

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

// chatPeer is a chat client speaking the session protocol over
// GET /realtime/session/ws, as wasm/demo/chat.go does through comet.Client.
type chatPeer struct {
	t       testing.TB
	ctx     context.Context
	c       *websocket.Conn
	hello   wire.Frame
	pending []wire.Line
	cursors map[int]wire.Cursor // per topic number: the last message read
	held    []chatLine          // messages read while waiting for a frame
	keys    int
}

// chatLine is one room or private message as a chat page reads it.
type chatLine struct {
	T      int
	Cursor wire.Cursor
	From   wire.Member
	Text   string
	To     string
}

// dialChat opens a session on ts (token: "" without -token-secret-file)
// and reads its hello.
func dialChat(ctx context.Context, t testing.TB, ts *testServer, token string) *chatPeer {
	t.Helper()
	u := wsURL(ts.URL, "/realtime/session/ws")
	if token != "" {
		u += "?token=" + token
	}
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { c.CloseNow() })
	p := &chatPeer{t: t, ctx: ctx, c: c, cursors: map[int]wire.Cursor{}}
	p.hello = p.frame(wire.OpHello)
	return p
}

func (p *chatPeer) send(cmds ...wire.Command) {
	p.t.Helper()
	for _, cmd := range cmds {
		b, _ := json.Marshal(cmd)
		must(p.t, p.c.Write(p.ctx, websocket.MessageText, b))
	}
}

// next returns the next line other than a ping.
func (p *chatPeer) next() wire.Line {
	p.t.Helper()
	for len(p.pending) == 0 {
		_, b, err := p.c.Read(p.ctx)
		if err != nil {
			p.t.Fatalf("reading the session: %v", err)
		}
		must(p.t, wire.SplitLines(b, func(line []byte) error {
			l, err := wire.ParseLine(line)
			if err != nil {
				return err
			}
			l.Data = append(json.RawMessage(nil), l.Data...)
			if l.IsMessage || l.Frame.Op != wire.OpPing {
				p.pending = append(p.pending, l)
			}
			return nil
		}))
	}
	l := p.pending[0]
	p.pending = p.pending[1:]
	switch {
	case l.IsMessage:
		cur := p.cursors[l.T]
		cur.Offset++
		p.cursors[l.T] = cur
	case l.Frame.Op == wire.OpSubscribe:
		p.cursors[l.Frame.T] = l.Frame.Cursor
	}
	return l
}

// frame returns the next frame of op, skipping other frames and keeping
// messages for line.
func (p *chatPeer) frame(op string) wire.Frame { return p.frame2(op, op) }

// frame2 returns the next frame of either op.
func (p *chatPeer) frame2(a, b string) wire.Frame {
	p.t.Helper()
	for {
		l := p.next()
		if l.IsMessage {
			p.held = append(p.held, p.chatLine(l))
			continue
		}
		if l.Frame.Op == a || l.Frame.Op == b {
			return l.Frame
		}
	}
}

// line returns the next chat message, skipping frames.
func (p *chatPeer) line() chatLine {
	p.t.Helper()
	if len(p.held) > 0 {
		l := p.held[0]
		p.held = p.held[1:]
		return l
	}
	for {
		if l := p.next(); l.IsMessage {
			return p.chatLine(l)
		}
	}
}

// chatLine decodes the message l just read.
func (p *chatPeer) chatLine(l wire.Line) chatLine {
	p.t.Helper()
	var st struct {
		From wire.Member
		Data struct{ Text, To string }
	}
	if err := json.Unmarshal(l.Data, &st); err != nil {
		p.t.Fatalf("message %s: %v", l.Data, err)
	}
	return chatLine{T: l.T, Cursor: p.cursors[l.T], From: st.From, Text: st.Data.Text, To: st.Data.To}
}

// join follows topic as t (from: "", wire.FromOldest or a cursor) and
// returns its sub or err frame.
func (p *chatPeer) join(t int, topic, from string, presence bool) wire.Frame {
	p.t.Helper()
	p.send(wire.Command{Op: wire.OpSubscribe, T: t, Topic: topic, From: from, Presence: presence})
	for {
		f := p.frame2(wire.OpSubscribe, wire.OpError)
		if f.T == t {
			return f
		}
	}
}

// say publishes text to topic (with a fresh idempotency key, or key) and
// returns the pub or err frame.
func (p *chatPeer) say(topic, text, to, key string) wire.Frame {
	p.t.Helper()
	if key == "" {
		p.keys++
		key = "k" + string(rune('a'+p.keys%26)) + time.Now().Format("150405.000000")
	}
	data, _ := json.Marshal(map[string]string{"text": text, "to": to})
	p.send(wire.Command{Op: wire.OpPublish, ID: uint64(len(key)), Topic: topic, Type: "msg", Data: data, Key: key})
	return p.frame2(wire.OpPublish, wire.OpError)
}

// tokenServer is a demo server with -token-secret-file and the demo's
// rules, and a function that signs in a user.
func tokenServer(t *testing.T) (*testServer, func(user string) string) {
	t.Helper()
	key := filepath.Join(t.TempDir(), "key")
	must(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	ts := newTestServer(t, func(c *config) { c.TokenSecretFile = key })
	return ts, func(user string) string {
		t.Helper()
		resp, body := postJSON(t, ts.URL+"/demo/token", `{"user":"`+user+`"}`)
		equal(t, "token status", resp.StatusCode, 200)
		var v struct{ Token string }
		must(t, json.Unmarshal(body, &v))
		return v.Token
	}
}

// storedLines reads a chat topic as the broker holds it.
func storedLines(t *testing.T, ts *testServer, topic string) []realtime.Sent {
	t.Helper()
	head, err := ts.hub.Head(topic)
	must(t, err)
	b, err := ts.rt.Broker().Read(context.Background(), topic, wire.Cursor{Epoch: head.Epoch}, 0)
	must(t, err)
	var out []realtime.Sent
	for _, m := range b.Messages {
		var s realtime.Sent
		must(t, json.Unmarshal(m.Data, &s))
		out = append(out, s)
	}
	return out
}

// TestChatRooms: the chat on sessions with tokens: a room is a topic with
// presence (join, who, leave), a message is stored once with the sender
// the server authenticated, whatever the client claims, and a member who
// comes back with its cursor gets what it missed, once.
func TestChatRooms(t *testing.T) {
	t.Parallel()
	ts, token := tokenServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob := dialChat(ctx, t, ts, token("alice")), dialChat(ctx, t, ts, token("bob"))
	equal(t, "alice's member", alice.hello.Member.Client, "u.alice")
	if f := alice.join(1, "chat:lobby", wire.FromOldest, true); f.Op != wire.OpSubscribe {
		t.Fatalf("alice joins: %+v", f)
	}
	alice.frame(wire.OpJoin) // her own
	if f := bob.join(1, "chat:lobby", wire.FromOldest, true); f.Op != wire.OpSubscribe {
		t.Fatalf("bob joins: %+v", f)
	}
	if j := alice.frame(wire.OpJoin); j.Member == nil || j.Member.User != "bob" {
		t.Fatalf("alice sees %+v, want bob's join", j)
	}
	alice.send(wire.Command{Op: wire.OpPresence, ID: 7, T: 1})
	who := alice.frame(wire.OpPresence)
	var names []string
	for _, m := range who.Members {
		names = append(names, m.User)
	}
	if strings.Join(names, ",") != "alice,bob" && strings.Join(names, ",") != "bob,alice" {
		t.Fatalf("who = %v, want alice and bob", names)
	}

	// One message, retried with its key: stored once, seen once by both.
	first := alice.say("chat:lobby", "hi bob", "", "alice-1")
	again := alice.say("chat:lobby", "hi bob", "", "alice-1")
	if first.Op != wire.OpPublish || !again.Repeat || again.Cursor != first.Cursor {
		t.Fatalf("publish %+v, retry %+v: want one stored message and a repeat", first, again)
	}
	for _, p := range []*chatPeer{alice, bob} {
		l := p.line()
		if l.Text != "hi bob" || l.From.User != "alice" || l.From.Client != "u.alice" || l.Cursor != first.Cursor {
			t.Fatalf("read %+v, want alice's line at %v", l, first.Cursor)
		}
	}
	// A line claiming another sender is stored with its real one.
	data := `{"from":{"client":"u.admin","user":"admin"},"data":{"text":"forged"}}`
	bob.send(wire.Command{Op: wire.OpPublish, ID: 9, Topic: "chat:lobby", Type: "msg", Data: json.RawMessage(data), Key: "bob-forge"})
	bob.frame(wire.OpPublish)
	lines := storedLines(t, ts, "chat:lobby")
	equal(t, "stored lines", len(lines), 2)
	equal(t, "the forging line's sender", lines[1].From.User, "bob")
	if !strings.Contains(string(lines[1].Data), `"admin"`) {
		t.Fatalf("stored %s: the claim stays data, under bob's name", lines[1].Data)
	}
	alice.line() // the forged-looking line, shown as bob's
	last := bob.line()

	// bob leaves (his session ends): alice sees it; alice writes twice;
	// bob's new session resumes after his last line and gets both, once.
	bob.c.Close(websocket.StatusNormalClosure, "")
	if l := alice.frame(wire.OpLeave); l.Member == nil || l.Member.User != "bob" {
		t.Fatalf("alice sees %+v, want bob's leave", l)
	}
	alice.say("chat:lobby", "missed 1", "", "")
	alice.say("chat:lobby", "missed 2", "", "")
	bob2 := dialChat(ctx, t, ts, token("bob"))
	if f := bob2.join(1, "chat:lobby", last.Cursor.String(), true); f.Op != wire.OpSubscribe || f.Cursor != last.Cursor {
		t.Fatalf("bob resumes: %+v, want after %v", f, last.Cursor)
	}
	for _, want := range []string{"missed 1", "missed 2"} {
		if l := bob2.line(); l.Text != want {
			t.Fatalf("bob after coming back read %+v, want %q", l, want)
		}
	}
	alice.say("chat:lobby", "welcome back", "", "")
	if l := bob2.line(); l.Text != "welcome back" {
		t.Fatalf("bob read %+v, want the live line", l)
	}
	equal(t, "stored lines", len(storedLines(t, ts, "chat:lobby")), 5)
}

// TestChatPrivate: with tokens a private message goes to dm:USER, which
// any signed-in user may write to and only USER may read; "to self" is
// the sender's own dm topic.
func TestChatPrivate(t *testing.T) {
	t.Parallel()
	ts, token := tokenServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob, eve := dialChat(ctx, t, ts, token("alice")), dialChat(ctx, t, ts, token("bob")), dialChat(ctx, t, ts, token("eve"))
	if f := bob.join(1, "dm:bob", wire.FromOldest, false); f.Op != wire.OpSubscribe {
		t.Fatalf("bob follows his private topic: %+v", f)
	}
	for _, topic := range []string{"dm:bob", "dm:bo", "dm:bob2"} {
		if f := eve.join(1, topic, wire.FromOldest, false); f.Op != wire.OpError || f.Code != wire.CodeForbidden {
			t.Fatalf("eve follows %s: %+v, want forbidden", topic, f)
		}
	}
	if f := alice.say("dm:bob", "just for you", "user", ""); f.Op != wire.OpPublish {
		t.Fatalf("alice writes to bob: %+v", f)
	}
	if l := bob.line(); l.Text != "just for you" || l.From.User != "alice" {
		t.Fatalf("bob read %+v, want alice's private line", l)
	}
	if f := alice.join(2, "dm:alice", "", false); f.Op != wire.OpSubscribe {
		t.Fatalf("alice follows her own: %+v", f)
	}
	alice.say("dm:alice", "note to self", "self", "")
	if l := alice.line(); l.Text != "note to self" || l.To != "self" {
		t.Fatalf("alice read %+v, want her note", l)
	}
	// Over plain HTTP too: a poll of another user's private topic is 403.
	resp, body := get(t, ts.URL+"/realtime/poll?topic=dm:bob&token="+token("eve"))
	if resp.StatusCode != 403 {
		t.Fatalf("eve polls dm:bob: %d %s, want 403", resp.StatusCode, body)
	}
}

// TestChatOpen: without tokens the chat works anonymously: the sender is
// the publishing session's anonymous member (never what the data claims),
// presence lists it, and the retired GET /ws/chat is gone.
func TestChatOpen(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := dialChat(ctx, t, ts, ""), dialChat(ctx, t, ts, "")
	a.join(1, "chat:open", "", true)
	b.join(1, "chat:open", "", true)
	a.say("chat:open", "hello", "others", "")
	for _, p := range []*chatPeer{a, b} {
		if l := p.line(); l.Text != "hello" || l.To != "others" || l.From.Client != a.hello.Member.Client || l.From.Client == "" {
			t.Fatalf("read %+v, want a's line from %+v", l, a.hello.Member)
		}
	}
	b.send(wire.Command{Op: wire.OpPresence, ID: 1, T: 1})
	if who := b.frame(wire.OpPresence); len(who.Members) != 2 {
		t.Fatalf("who = %+v, want both anonymous members", who.Members)
	}
	resp, body := get(t, ts.URL+"/ws/chat")
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /ws/chat = %d %s, want 404: the route is retired", resp.StatusCode, body)
	}
	if _, resp, err := websocket.Dial(ctx, wsURL(ts.URL, "/ws/chat"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}}); err == nil {
		t.Fatalf("a WebSocket to /ws/chat was accepted (%v)", resp)
	}
}
