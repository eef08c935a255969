//go:build !js

package realtime_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

// transports opens a session on a (commands POSTed to b for the one-way
// ones: another node on the same broker).
var transports = []struct {
	name string
	open func(t testing.TB, a, b *node, q string) *client
}{
	{"ws", func(t testing.TB, a, b *node, q string) *client { return dialWS(t, a, q, nil) }},
	{"sse", func(t testing.TB, a, b *node, q string) *client { return openStream(t, a, "sse", q, b, nil) }},
	{"stream", func(t testing.TB, a, b *node, q string) *client { return openStream(t, a, "stream", q, b, nil) }},
}

func topicName(t testing.TB, i int) string {
	return strings.NewReplacer("/", "-", "#", "-").Replace(t.Name()) + "-" + strconv.Itoa(i)
}

// TestSessionManyTopics: 20 topics on one connection, some subscribed in
// the URL and some by command (POSTed to the other node for SSE and
// streaming); every message once, in order, at the implied offsets, and a
// broker batch shares one frame.
func TestSessionManyTopics(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b, br := twoNodes(t, realtime.Config{})
			const topics, per = 20, 10
			var q []string
			for i := 1; i <= topics/2; i++ {
				q = append(q, "sub="+strconv.Itoa(i)+","+topicName(t, i)+",")
			}
			c := tr.open(t, a, b, strings.Join(q, "&"))
			var cmds []wire.Command
			for i := topics/2 + 1; i <= topics; i++ {
				cmds = append(cmds, wire.Command{Op: wire.OpSubscribe, ID: uint64(i), T: i, Topic: topicName(t, i)})
			}
			c.send(cmds...)
			for range topics {
				f := c.frame(wire.OpSubscribe)
				if f.Topic != topicName(t, f.T) || f.Cursor.Offset != 0 || f.Cursor.Epoch == "" {
					t.Fatalf("sub answer %+v", f)
				}
				if f.T > topics/2 && f.ID != uint64(f.T) {
					t.Fatalf("sub answer %+v does not echo its id", f)
				}
			}
			for i := 1; i <= topics; i++ {
				data := make([]string, per)
				for k := range data {
					data[k] = fmt.Sprintf(`{"t":%d,"k":%d}`, i, k)
				}
				publish(t, br, topicName(t, i), data...)
			}
			got := c.messages(topics * per)
			for i := 1; i <= topics; i++ {
				if len(got[i]) != per {
					t.Fatalf("topic %d: %d messages, want %d", i, len(got[i]), per)
				}
				for k, d := range got[i] {
					if want := fmt.Sprintf(`{"t":%d,"k":%d}`, i, k); d != want {
						t.Fatalf("topic %d message %d = %s, want %s", i, k, d, want)
					}
				}
				head, _ := br.Head(testCtx(t), topicName(t, i))
				if c.cursors[i] != head {
					t.Fatalf("topic %d: implied cursor %v, broker head %v", i, c.cursors[i], head)
				}
			}
			if tr.name != "stream" && c.multi == 0 { // a stream has no frames the client sees
				t.Fatalf("no frame held more than one message (%d frames)", c.frames)
			}
		})
	}
}

// TestSessionPublishAck: a pub answers the cursor the broker stored it at;
// its repeat (same key) answers the same cursor with repeat and appends
// nothing; the subscriber sees it once.
func TestSessionPublishAck(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b, br := twoNodes(t, realtime.Config{})
			topic := topicName(t, 0)
			c := tr.open(t, a, b, "sub=1,"+topic+",")
			c.frame(wire.OpSubscribe)
			pub := wire.Command{Op: wire.OpPublish, ID: 7, Topic: topic, Type: "chat msg", Data: json.RawMessage(`"hi"`), Key: "k-1"}
			c.send(pub)
			var ack wire.Frame
			var msg wire.Line
			for range 2 { // the ack and the message, in either order
				if l := c.next(); l.IsMessage {
					msg = l
				} else {
					ack = l.Frame
				}
			}
			if ack.Op != wire.OpPublish || ack.ID != 7 || ack.Cursor.Offset != 1 || ack.Repeat {
				t.Fatalf("ack %+v, want pub at offset 1", ack)
			}
			if msg.T != 1 || msg.Type != "chat msg" || string(msg.Data) != `"hi"` {
				t.Fatalf("message %+v", msg)
			}
			pub.ID = 8
			c.send(pub, wire.Command{Op: wire.OpPublish, ID: 9, Topic: topic, Data: json.RawMessage(`2`), Key: "k-2"})
			rep := c.frame(wire.OpPublish)
			if rep.ID != 8 || !rep.Repeat || rep.Cursor != ack.Cursor {
				t.Fatalf("repeat answered %+v, want the first cursor %v with repeat", rep, ack.Cursor)
			}
			var second wire.Frame
			var l wire.Line
			for range 2 {
				if x := c.next(); x.IsMessage {
					l = x
				} else {
					second = x.Frame
				}
			}
			if second.ID != 9 || second.Cursor.Offset != 2 || string(l.Data) != "2" {
				t.Fatalf("after the repeat: ack %+v, message %+v; want offset 2 and data 2", second, l)
			}
			if head, _ := br.Head(testCtx(t), topic); head.Offset != 2 {
				t.Fatalf("head %v after a publish, its repeat and another: want offset 2", head)
			}
		})
	}
}

// TestPublishIdempotencyKey: POST publish with an Idempotency-Key: the
// repeat answers the first cursor and appends nothing.
func TestPublishIdempotencyKey(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{})
	var replies []wire.PublishReply
	for range 3 {
		req, _ := http.NewRequest("POST", n.url+"publish", strings.NewReader(`{"topic":"idem","data":1}`))
		req.Header.Set("Idempotency-Key", "abc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r wire.PublishReply
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		replies = append(replies, r)
	}
	if replies[0].Repeat || !replies[1].Repeat || !replies[2].Repeat || replies[1].Cursor != replies[0].Cursor {
		t.Fatalf("replies %+v", replies)
	}
	if head, _ := n.h.Broker().Head(testCtx(t), "idem"); head.Offset != 1 {
		t.Fatalf("head %v, want offset 1", head)
	}
}

// TestSessionUnsubscribe: after the unsub answer no line of T follows;
// the other topics go on; T can be reused.
func TestSessionUnsubscribe(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b, br := twoNodes(t, realtime.Config{})
			x, y := topicName(t, 1), topicName(t, 2)
			c := tr.open(t, a, b, "sub=1,"+x+",&sub=2,"+y+",")
			c.frame(wire.OpSubscribe)
			c.frame(wire.OpSubscribe)
			publish(t, br, x, "1")
			if got := c.messages(1); got[1][0] != "1" {
				t.Fatalf("got %v", got)
			}
			c.send(wire.Command{Op: wire.OpUnsubscribe, ID: 3, T: 1})
			if f := c.frame(wire.OpUnsubscribe); f.ID != 3 || f.T != 1 {
				t.Fatalf("unsub answer %+v", f)
			}
			publish(t, br, x, "2")
			publish(t, br, y, "3")
			if got := c.messages(1); len(got[1]) != 0 || got[2][0] != "3" {
				t.Fatalf("after unsub of 1 got %v, want only t 2", got)
			}
			c.send(wire.Command{Op: wire.OpSubscribe, T: 1, Topic: x, From: "oldest"})
			if f := c.frame(wire.OpSubscribe); f.Cursor.Offset != 0 {
				t.Fatalf("resubscribe from oldest: %+v", f)
			}
			if got := c.messages(2); !slices.Equal(got[1], []string{"1", "2"}) {
				t.Fatalf("from oldest got %v", got)
			}
			c.send(wire.Command{Op: wire.OpUnsubscribe, ID: 4, T: 9})
			if f := c.frame(wire.OpError); f.ID != 4 || f.Code != wire.CodeBad {
				t.Fatalf("unsub of an unknown t: %+v", f)
			}
		})
	}
}

// TestSessionGaps: a cursor whose history is gone answers a gap frame
// (with the command's id) and frees T; resuming from its resume cursor
// works; oldest starts at the oldest kept; a cursor resumes exactly.
func TestSessionGaps(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b, br := twoNodes(t, realtime.Config{History: 4})
			topic := topicName(t, 0)
			r := publish(t, br, topic, "1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
			c := tr.open(t, a, b, "")
			c.send(wire.Command{Op: wire.OpSubscribe, ID: 1, T: 1, Topic: topic, From: wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 2}.String()})
			g := c.frame(wire.OpGap)
			if g.ID != 1 || g.T != 1 || g.Gap == nil || g.Gap.Reason != wire.GapEvicted || g.Gap.Resume.Offset != 6 {
				t.Fatalf("gap %+v", g)
			}
			c.send(wire.Command{Op: wire.OpSubscribe, ID: 2, T: 1, Topic: topic, From: g.Gap.Resume.String()})
			if f := c.frame(wire.OpSubscribe); f.Cursor != g.Gap.Resume {
				t.Fatalf("sub from resume: %+v", f)
			}
			if got := c.messages(4); !slices.Equal(got[1], []string{"7", "8", "9", "10"}) {
				t.Fatalf("after resume: %v", got)
			}
			c.send(wire.Command{Op: wire.OpSubscribe, T: 2, Topic: topic, From: wire.FromOldest},
				wire.Command{Op: wire.OpSubscribe, T: 3, Topic: topic, From: wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 8}.String()},
				wire.Command{Op: wire.OpSubscribe, T: 4, Topic: topic, From: "zz-1"})
			got := map[int][]string{}
			frames := map[string]int{}
			for len(got[2])+len(got[3]) < 6 || len(frames) < 3 {
				l := c.next()
				if l.IsMessage {
					got[l.T] = append(got[l.T], string(l.Data))
					continue
				}
				frames[l.Frame.Op+strconv.Itoa(l.Frame.T)]++
				if l.Frame.Op == wire.OpGap && (l.Frame.T != 4 || l.Frame.Gap.Reason != wire.GapEpoch) {
					t.Fatalf("unexpected gap %+v", l.Frame)
				}
			}
			if !slices.Equal(got[2], []string{"7", "8", "9", "10"}) || !slices.Equal(got[3], []string{"9", "10"}) || frames["gap4"] != 1 {
				t.Fatalf("oldest got %v, from 8 got %v, frames %v", got[2], got[3], frames)
			}
		})
	}
}

// TestSessionBounds: refused commands answer an "err" frame with a clear
// code, and the session goes on.
func TestSessionBounds(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			br := memory.New(broker.Limits{MaxData: 200})
			t.Cleanup(func() { br.Close() })
			burst := 14 // the commands before the last of the table
			if tr.name == "ws" {
				burst++
			}
			cfg := realtime.Config{Broker: br, SessionTopics: 2, SessionBurst: burst, SessionRate: 0.001, ServerTopics: []string{"srv:*"}}
			a, b := newNode(t, cfg), newNode(t, cfg)
			c := tr.open(t, a, b, "")
			for _, tc := range []struct {
				cmd  wire.Command
				code string
			}{
				{wire.Command{Op: wire.OpSubscribe, T: 1, Topic: "x"}, ""},
				{wire.Command{Op: wire.OpSubscribe, T: 1, Topic: "y"}, wire.CodeBad},          // t in use
				{wire.Command{Op: wire.OpSubscribe, T: 0, Topic: "y"}, wire.CodeBad},          // t out of range
				{wire.Command{Op: wire.OpSubscribe, T: 2, Topic: "a b"}, wire.CodeBad},        // topic name
				{wire.Command{Op: wire.OpSubscribe, T: 2, Topic: "_n:x"}, wire.CodeForbidden}, // internal
				{wire.Command{Op: wire.OpSubscribe, T: 2, Topic: "y", From: "nope"}, wire.CodeBad},
				{wire.Command{Op: wire.OpSubscribe, T: 2, Topic: "y"}, ""},
				{wire.Command{Op: wire.OpSubscribe, T: 3, Topic: "z"}, wire.CodeTooMany}, // SessionTopics
				{wire.Command{Op: wire.OpPublish, Topic: "srv:clock", Data: json.RawMessage(`1`)}, wire.CodeForbidden},
				{wire.Command{Op: wire.OpPublish, Topic: "_p:x", Data: json.RawMessage(`1`)}, wire.CodeForbidden},
				{wire.Command{Op: wire.OpPublish, Topic: "x", Data: json.RawMessage(`1`), Key: "a key"}, wire.CodeBad},
				{wire.Command{Op: "nope"}, wire.CodeBad},
				{wire.Command{Op: wire.OpPresence, T: 9}, wire.CodeBad}, // who of an unknown t
				{wire.Command{Op: wire.OpPresence, Topic: "x"}, ""},
				{wire.Command{Op: wire.OpPresence, Topic: "x"}, wire.CodeTooMany}, // the 15th command: over the rate
			} {
				if tc.cmd.Op == wire.OpPresence && tc.code == wire.CodeTooMany && tr.name == "ws" {
					// on WebSocket a data over the broker's limit is one more command
					c.send(wire.Command{ID: 100, Op: wire.OpPublish, Topic: "x", Data: json.RawMessage(`"` + strings.Repeat("x", 250) + `"`)})
					if f := c.frame(wire.OpError); f.Code != wire.CodeTooLarge || f.ID != 100 {
						t.Fatalf("too large: %+v", f)
					}
				}
				tc.cmd.ID = 100
				c.send(tc.cmd)
				l := c.next()
				switch {
				case tc.code == "" && (l.IsMessage || l.Frame.Op != tc.cmd.Op):
					t.Fatalf("%+v: got %+v, want its answer", tc.cmd, l)
				case tc.code != "" && (l.IsMessage || l.Frame.Op != wire.OpError || l.Frame.Code != tc.code || l.Frame.ID != 100 || l.Frame.Error == ""):
					t.Fatalf("%+v: got %+v, want err %q", tc.cmd, l, tc.code)
				}
			}
			if tr.name != "ws" { // commands travel through the broker: over its limit the POST is refused
				big := wire.Command{Op: wire.OpPublish, Topic: "x", Data: json.RawMessage(`"` + strings.Repeat("x", 250) + `"`)}
				if status, body := postCmd(t, b, c.hello.Session, big); status != http.StatusRequestEntityTooLarge {
					t.Fatalf("POST of a publish over the broker's limit: %d %s, want 413", status, body)
				}
			}
		})
	}
}

// TestSessionCmdRefused: session/cmd answers 400 for a malformed id or
// body, 404 for a session of this node that does not exist.
func TestSessionCmdRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{})
	c := openStream(t, n, "stream", "", n, nil)
	node, _, _ := strings.Cut(c.hello.Session, ".")
	for _, tc := range []struct {
		name, session, body string
		status              int
	}{
		{"no id", "", `[]`, 400},
		{"bad id", "x.y", `{"op":"who","topic":"a"}`, 400},
		{"unknown session", node + ".AAAAAAAAAAAAAAAAAAAAAA", `{"op":"who","topic":"a"}`, 404},
		{"not json", c.hello.Session, `{`, 400},
		{"empty", c.hello.Session, `[]`, 400},
		{"too many", c.hello.Session, "[" + strings.Repeat(`{"op":"who"},`, 256) + `{"op":"who"}]`, 400},
		{"one command", c.hello.Session, `{"op":"who","topic":"a","id":5}`, 202},
	} {
		resp, err := http.Post(n.url+"session/cmd?session="+tc.session, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if f := c.frame(wire.OpPresence); f.ID != 5 || f.Topic != "a" {
		t.Fatalf("who answer %+v", f)
	}
	for _, q := range []string{"sub=x", "sub=1,a,,q", "heartbeat=1"} {
		if status, _ := get(t, n, "session/stream?"+q); status != 400 {
			t.Errorf("session/stream?%s: %d, want 400", q, status)
		}
	}
}
