//go:build !js

package realtime_test

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// pollLines GETs a session poll and parses its lines.
func pollLines(t testing.TB, n *node, path string) []wire.Line {
	t.Helper()
	status, body := get(t, n, path)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var out []wire.Line
	err := wire.SplitLines([]byte(body), func(line []byte) error {
		l, err := wire.ParseLine(line)
		l.Data = append(json.RawMessage(nil), l.Data...)
		out = append(out, l)
		return err
	})
	if err != nil {
		t.Fatalf("GET %s: %v in %q", path, err, body)
	}
	return out
}

func describe(ls []wire.Line) string {
	var b []string
	for _, l := range ls {
		if l.IsMessage {
			b = append(b, string(wire.AppendMessage(nil, l.T, l.Type, l.Data)))
		} else {
			b = append(b, string(wire.AppendFrame(nil, l.Frame)))
		}
	}
	return strings.Join(b, "")
}

// TestSessionPoll: stateless polls over many topics: a sub frame for a
// start that is not a cursor, the lines after each cursor, gaps and
// errors as frames; a long poll waits for any topic.
func TestSessionPoll(t *testing.T) {
	t.Parallel()
	a, b, br := twoNodes(t, realtime.Config{History: 4})
	x, y := topicName(t, 1), topicName(t, 2)
	publish(t, br, x, "1", "2")
	ls := pollLines(t, a, "session/poll?sub=1,"+x+",&sub=2,"+y+",oldest")
	if len(ls) != 2 || ls[0].Frame.Op != wire.OpSubscribe || ls[0].Frame.Cursor.Offset != 2 || ls[1].Frame.Op != wire.OpSubscribe || ls[1].Frame.Cursor.Offset != 0 {
		t.Fatalf("first poll: %s", describe(ls))
	}
	cx, cy := ls[0].Frame.Cursor, ls[1].Frame.Cursor
	publish(t, br, x, "3", "4")
	publish(t, br, y, `"a"`)
	ls = pollLines(t, b, "session/poll?sub=1,"+x+","+cx.String()+"&sub=2,"+y+","+cy.String())
	if got := describe(ls); got != "1 3\n1 4\n2 \"a\"\n" {
		t.Fatalf("second poll (other node): %q", got)
	}
	if ls := pollLines(t, a, "session/poll?max=1&sub=1,"+x+","+cx.String()); describe(ls) != "1 3\n" {
		t.Fatalf("max=1: %s", describe(ls))
	}
	publish(t, br, x, "5", "6", "7", "8")
	ls = pollLines(t, a, "session/poll?sub=1,"+x+","+cx.String()+"&sub=2,_p:x,&sub=3,"+y+",zz-1&sub=3,"+y+",")
	if len(ls) != 4 || ls[0].Frame.Op != wire.OpGap || ls[0].Frame.Gap.Reason != wire.GapEvicted ||
		ls[1].Frame.Code != wire.CodeForbidden || ls[2].Frame.Op != wire.OpGap || ls[2].Frame.Gap.Reason != wire.GapEpoch ||
		ls[3].Frame.Code != wire.CodeBad {
		t.Fatalf("gaps and errors: %s", describe(ls))
	}
	if status, _ := get(t, a, "session/poll?sub=1"); status != 400 {
		t.Fatalf("a malformed sub: %d, want 400", status)
	}

	// A long poll waits until one of its topics has a message.
	head, _ := br.Head(testCtx(t), y)
	done := make(chan []wire.Line, 1)
	go func() {
		done <- pollLines(t, b, "session/longpoll?timeout=10000&sub=1,"+x+","+mustHead(t, br, x).String()+"&sub=2,"+y+","+head.String())
	}()
	time.Sleep(50 * time.Millisecond) // most likely waiting by now; the answer is the same if not
	publish(t, br, y, `"b"`)
	if ls := <-done; describe(ls) != "2 \"b\"\n" {
		t.Fatalf("long poll: %q", describe(ls))
	}
	if ls := pollLines(t, a, "session/longpoll?timeout=10&sub=1,"+x+","+mustHead(t, br, x).String()); len(ls) != 0 {
		t.Fatalf("a long poll that times out: %s, want nothing", describe(ls))
	}
}

func mustHead(t testing.TB, b broker.Broker, topic string) wire.Cursor {
	t.Helper()
	c, err := b.Head(testCtx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSessionPresence: two nodes on one broker: members see each other
// join and leave across nodes, who lists them, and a member of a node that
// died (it stops refreshing) leaves once its TTL passes.
func TestSessionPresence(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a, b, br := twoNodes(t, realtime.Config{PresenceTTL: 1500 * time.Millisecond})
			room := topicName(t, 0)
			ca := tr.open(t, a, b, "sub=1,"+room+",,p")
			sa := ca.frame(wire.OpSubscribe)
			if len(sa.Members) != 1 || sa.Members[0].Client != ca.hello.Member.Client || ca.hello.Member.User != ca.hello.Member.Client {
				t.Fatalf("first member's sub answer %+v (hello %+v)", sa, ca.hello.Member)
			}
			if j := ca.frame(wire.OpJoin); j.Member.Client != ca.hello.Member.Client || j.T != 1 {
				t.Fatalf("own join %+v", j)
			}
			cb := tr.open(t, b, a, "")
			cb.send(wire.Command{Op: wire.OpSubscribe, ID: 1, T: 5, Topic: room, Presence: true})
			sb := cb.frame(wire.OpSubscribe)
			if got := clientsOf(sb.Members); !slices.Equal(got, sortedClients(ca, cb)) {
				t.Fatalf("second member's sub answer lists %v", got)
			}
			if j := ca.frame(wire.OpJoin); j.Member.Client != cb.hello.Member.Client {
				t.Fatalf("node a saw %+v, want b's join", j)
			}
			if strings.Contains(ca.hello.Session+cb.hello.Session, sb.Members[0].Client) {
				t.Fatal("a member's public id is (part of) a session id")
			}
			time.Sleep(1800 * time.Millisecond) // past one TTL: refreshes keep both
			ca.send(wire.Command{Op: wire.OpPresence, ID: 2, T: 1})
			if w := ca.frame(wire.OpPresence); w.ID != 2 || !slices.Equal(clientsOf(w.Members), sortedClients(ca, cb)) {
				t.Fatalf("who after a TTL: %+v", w)
			}
			cb.send(wire.Command{Op: wire.OpUnsubscribe, T: 5})
			if l := ca.frame(wire.OpLeave); l.Member.Client != cb.hello.Member.Client {
				t.Fatalf("node a saw %+v, want b's leave", l)
			}
			// A member of a dead node: it joined (and announced it) but
			// nobody refreshes it.
			p := broker.Presence(br)
			ghost := wire.Member{Client: "ghost", User: "ghost"}
			if _, err := p.Join(testCtx(t), room, ghost, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if l := ca.frame(wire.OpLeave); l.Member.Client != "ghost" {
				t.Fatalf("got %+v, want the ghost's leave", l)
			}
			ca.close()
			eventually(t, "members after the last left", func() bool {
				ms, _ := p.Members(testCtx(t), room)
				return len(ms) == 0
			})
		})
	}
}

func clientsOf(ms []wire.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Client)
	}
	return out
}

func sortedClients(cs ...*client) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.hello.Member.Client)
	}
	slices.Sort(out)
	return out
}

// TestSessionLeaks: sessions of every transport with many topics and
// presence, and polls, end with their clients: sessions, subscriptions and
// goroutines go back to where they were.
func TestSessionLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Run("run", func(t *testing.T) { // its cleanups close the nodes
		a, b, br := twoNodes(t, realtime.Config{PresenceTTL: time.Second})
		baseSubs := a.h.Subscribers() + b.h.Subscribers()
		var cs []*client
		for _, tr := range transports {
			c := tr.open(t, a, b, "sub=1,leak-1,&sub=2,leak-2,,p&sub=3,leak-3,oldest")
			for subs := 0; subs < 3; {
				if l := c.next(); !l.IsMessage && l.Frame.Op == wire.OpSubscribe {
					subs++
				}
			}
			c.send(wire.Command{Op: wire.OpPublish, Topic: "leak-1", Data: json.RawMessage(`1`), Key: tr.name})
			cs = append(cs, c)
		}
		for _, c := range cs {
			for c.next().IsMessage { // until the ack
			}
		}
		publish(t, br, "leak-3", "1")
		status, _ := get(t, a, "session/longpoll?timeout=20&sub=1,leak-1,"+mustHead(t, br, "leak-1").String())
		if status != 200 {
			t.Fatal(status)
		}
		if n := a.h.Sessions(); n != 3 {
			t.Fatalf("node a holds %d sessions, want 3", n)
		}
		for _, c := range cs {
			c.close()
		}
		eventually(t, "sessions end with their clients", func() bool {
			return a.h.Sessions() == 0 && a.h.Subscribers()+b.h.Subscribers() == baseSubs
		})
		if ms, _ := br.Members(testCtx(t), "leak-2"); len(ms) != 0 {
			t.Fatalf("members left behind: %v", ms)
		}
		// Many-topic feeds, left open: the subtest's cleanup ends them.
		next := readSSE(t, a.url+"sse?topic=leak-1&topic=leak-3", nil)
		next()
		line := openLines(t, b.url+"stream?topic=leak-1&topic=leak-3")
		line()
	})
	http.DefaultClient.CloseIdleConnections()
	eventually(t, "goroutines back to the baseline", func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// TestSessionWireBytes measures what one message costs on the wire of
// each transport, beyond its payload (a 64-byte JSON string), as received
// by the client's socket, one message per frame: for HTTP this includes
// the chunked encoding (6 bytes a chunk), which a browser's EventSource
// never shows.
func TestSessionWireBytes(t *testing.T) {
	t.Parallel()
	payload := `"` + strings.Repeat("x", 62) + `"`
	for _, tc := range []struct {
		name string
		max  int // the target
		open func(t testing.TB, n *node, hc *http.Client) *client
	}{
		{"ws", 6, func(t testing.TB, n *node, hc *http.Client) *client { return dialWS(t, n, "sub=1,bytes,", hc) }},
		{"sse", 15, func(t testing.TB, n *node, hc *http.Client) *client {
			return openStream(t, n, "sse", "sub=1,bytes,", n, hc)
		}},
		{"stream", 9, func(t testing.TB, n *node, hc *http.Client) *client {
			return openStream(t, n, "stream", "sub=1,bytes,", n, hc)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newNode(t, realtime.Config{})
			var got atomic.Int64
			c := tc.open(t, n, countingClient(&got))
			c.frame(wire.OpSubscribe)
			const k = 50
			before := got.Load()
			for range k {
				publish(t, n.h.Broker(), "bytes", payload)
				c.messages(1) // one message per frame
			}
			per := float64(got.Load()-before)/k - float64(len(payload))
			t.Logf("%s: %.1f bytes per message beyond a %d-byte payload (chunked encoding included for HTTP)", tc.name, per, len(payload))
			if per > float64(tc.max) {
				t.Errorf("%s: %.1f bytes of overhead, target %d", tc.name, per, tc.max)
			}
			before = got.Load()
			batch := make([]string, 10)
			for i := range batch {
				batch[i] = payload
			}
			for range k / 10 {
				publish(t, n.h.Broker(), "bytes", batch...) // one broker batch: one frame
				c.messages(10)
			}
			t.Logf("%s: %.1f bytes per message beyond the payload, 10 messages a frame", tc.name, float64(got.Load()-before)/k-float64(len(payload)))
		})
	}
}

var _ = io.Discard

// TestSessionSlowReaderGetsGap: a reader that stops reading holds at most
// the session's queue (plus the socket's buffers): its subscription
// waits, falls behind the broker's history, and gets a gap frame once it
// reads again, never a silent loss.
func TestSessionSlowReaderGetsGap(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{History: 16, SessionQueue: 4 << 10, StreamWriteTimeout: time.Minute})
	c := dialWS(t, n, "sub=1,slow,", nil)
	c.frame(wire.OpSubscribe)
	big := `"` + strings.Repeat("x", 4096) + `"`
	var batch []string
	for range 64 {
		batch = append(batch, big)
	}
	publish(t, n.h.Broker(), "slow", "0")
	c.messages(1)   // flowing
	for range 160 { // 40 MiB while the client does not read
		publish(t, n.h.Broker(), "slow", batch...)
	}
	got := 0
	for {
		l := c.next()
		if l.IsMessage {
			got++
			continue
		}
		if l.Frame.Op != wire.OpGap || l.Frame.T != 1 || l.Frame.Gap.Reason != wire.GapEvicted {
			t.Fatalf("got %+v, want a gap", l.Frame)
		}
		break
	}
	if cur := c.cursors; len(cur) != 0 {
		t.Fatalf("t 1 still live after its gap: %v", cur)
	}
	t.Logf("%d of %d messages before the gap", got, 160*64)
	if got >= 160*64 {
		t.Fatalf("every message arrived: the reader was not slow")
	}
}

// TestSessionPollBounded: a poll answer holds about SessionQueue bytes of
// messages; the next poll goes on exactly where its lines end.
func TestSessionPollBounded(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{SessionQueue: 1000})
	big := `"` + strings.Repeat("x", 98) + `"`
	batch := make([]string, 30)
	for i := range batch {
		batch[i] = big
	}
	r := publish(t, n.h.Broker(), "bounded", batch...)
	from := wire.Cursor{Epoch: r.Cursor.Epoch}
	total, polls := 0, 0
	for total < 30 {
		ls := pollLines(t, n, "session/poll?sub=1,bounded,"+from.String())
		if len(ls) == 0 || len(ls) > 11 {
			t.Fatalf("poll %d: %d lines, want 1 to 11", polls, len(ls))
		}
		total += len(ls)
		from.Offset += uint64(len(ls))
		polls++
	}
	if total != 30 || polls < 3 {
		t.Fatalf("%d messages in %d polls", total, polls)
	}
}
