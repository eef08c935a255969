//go:build js && wasm

package ws_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/ws"
)

// The demo chat's WebSocket is the realtime session
// (GET /realtime/session/ws: JSON commands in, lines of package wire
// out). These tests drive it with wasm/ws alone, as an application with
// its own protocol over a plain WebSocket would.

// rw is a Conn or a reconnecting Client.
type rw interface {
	Read(ctx context.Context) (ws.MessageType, []byte, error)
	Write(ctx context.Context, typ ws.MessageType, p []byte) error
}

// chatter is one member of a chat room (topic number 1).
type chatter struct {
	t       *testing.T
	name    string
	c       rw
	cur     wire.Cursor // after the last room line read
	pending []wire.Line
	member  wire.Member // of the connection's hello
	pubs    int
}

func (ch *chatter) send(ctx context.Context, cmd wire.Command) {
	ch.t.Helper()
	b, _ := json.Marshal(cmd)
	if err := ch.c.Write(ctx, ws.MessageText, b); err != nil {
		ch.t.Fatalf("%s: Write: %v", ch.name, err)
	}
}

// expect reads lines until match; it fails on a room line skipped on the
// way (a line delivered where or when it should not be). Frames (hello,
// ping, join, leave, pub answers) may be skipped.
func (ch *chatter) expect(ctx context.Context, what string, match func(wire.Line) bool) wire.Line {
	ch.t.Helper()
	for {
		for len(ch.pending) == 0 {
			typ, b, err := ch.c.Read(ctx)
			if err != nil {
				ch.t.Fatalf("%s: waiting for %s: %v", ch.name, what, err)
			}
			if typ != ws.MessageText {
				ch.t.Fatalf("%s: a binary message", ch.name)
			}
			if err := wire.SplitLines(b, func(line []byte) error {
				l, err := wire.ParseLine(line)
				l.Data = append(json.RawMessage(nil), l.Data...)
				ch.pending = append(ch.pending, l)
				return err
			}); err != nil {
				ch.t.Fatalf("%s: bad line in %q: %v", ch.name, b, err)
			}
		}
		l := ch.pending[0]
		ch.pending = ch.pending[1:]
		switch {
		case l.IsMessage:
			ch.cur.Offset++
		case l.Frame.Op == wire.OpSubscribe:
			ch.cur = l.Frame.Cursor
		case l.Frame.Op == wire.OpHello && l.Frame.Member != nil:
			ch.member = *l.Frame.Member
		case l.Frame.Op == wire.OpError:
			ch.t.Fatalf("%s: waiting for %s got an error %+v", ch.name, what, l.Frame)
		}
		if match(l) {
			return l
		}
		if l.IsMessage {
			ch.t.Fatalf("%s: while waiting for %s got the line %q", ch.name, what, lineText(l))
		}
	}
}

// say publishes text to the room and waits for the server's answer.
func (ch *chatter) say(ctx context.Context, room, text string) {
	ch.t.Helper()
	ch.pubs++
	id := uint64(ch.pubs)
	data, _ := json.Marshal(map[string]string{"text": text})
	ch.send(ctx, wire.Command{Op: wire.OpPublish, ID: id, Topic: room, Type: "msg", Data: data, Key: ch.name + "-" + strconv.Itoa(ch.pubs) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	ch.pendingPub(ctx, id)
}

// pendingPub waits for the answer to publish id, keeping the room lines
// that come first for expect.
func (ch *chatter) pendingPub(ctx context.Context, id uint64) {
	ch.t.Helper()
	var keep []wire.Line
	for {
		for len(ch.pending) == 0 {
			_, b, err := ch.c.Read(ctx)
			if err != nil {
				ch.t.Fatalf("%s: waiting for publish %d: %v", ch.name, id, err)
			}
			wire.SplitLines(b, func(line []byte) error {
				l, err := wire.ParseLine(line)
				l.Data = append(json.RawMessage(nil), l.Data...)
				ch.pending = append(ch.pending, l)
				return err
			})
		}
		l := ch.pending[0]
		ch.pending = ch.pending[1:]
		if !l.IsMessage && l.Frame.ID == id && (l.Frame.Op == wire.OpPublish || l.Frame.Op == wire.OpError) {
			if l.Frame.Op == wire.OpError {
				ch.t.Fatalf("%s: publish refused: %+v", ch.name, l.Frame)
			}
			ch.pending = append(keep, ch.pending...)
			return
		}
		keep = append(keep, l)
	}
}

// lineText is the text of a stored chat line ({"from":…,"data":{"text":…}}).
func lineText(l wire.Line) string {
	var st struct{ Data struct{ Text string } }
	json.Unmarshal(l.Data, &st)
	return st.Data.Text
}

func isLine(text string) func(wire.Line) bool {
	return func(l wire.Line) bool { return l.IsMessage && l.T == 1 && lineText(l) == text }
}

func isFrame(op string, member func() string) func(wire.Line) bool {
	return func(l wire.Line) bool {
		return !l.IsMessage && l.Frame.Op == op && (member == nil || l.Frame.Member != nil && l.Frame.Member.Client == member())
	}
}

// TestChatRoomsAndReconnect: three members of a room, one of them a
// reconnecting ws.Client whose OnOpen subscribes again from the cursor of
// the last line it saw: every line reaches each member once, in order;
// presence shows the drop and the return; what was said while it was
// away arrives after the reconnect, exactly once.
func TestChatRoomsAndReconnect(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	room := "chat:wsroom" + strconv.FormatInt(time.Now().UnixNano(), 36)
	a := &chatter{t: t, name: "a", c: dial(t, ctx, "/realtime/session/ws", nil)}
	b := &chatter{t: t, name: "b", c: dial(t, ctx, "/realtime/session/ws", nil)}
	join := func(ch *chatter) {
		ch.send(ctx, wire.Command{Op: wire.OpSubscribe, T: 1, Topic: room, Presence: true})
		ch.expect(ctx, "subscribed", isFrame(wire.OpSubscribe, nil))
	}
	join(a)

	// c reconnects by itself: OnOpen subscribes from the cursor of the
	// last line c saw. The second OnOpen waits for the gate, so c misses
	// what a says meanwhile.
	var last string
	gate := make(chan struct{})
	opens := 0
	states := make(chan ws.StateEvent, 100)
	client := ws.Reconnect(ctx, wsBase(t)+"/realtime/session/ws", &ws.ReconnectOptions{
		MinDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond,
		OnState: func(ev ws.StateEvent) {
			select {
			case states <- ev:
			default:
			}
		},
		OnOpen: func(ctx context.Context, c *ws.Conn) error {
			if opens++; opens == 2 {
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			sub, _ := json.Marshal(wire.Command{Op: wire.OpSubscribe, T: 1, Topic: room, From: last, Presence: true})
			return c.Write(ctx, ws.MessageText, sub)
		},
	})
	defer client.Close()
	c := &chatter{t: t, name: "c", c: client}
	c.expect(ctx, "c subscribed", isFrame(wire.OpSubscribe, nil))
	a.expect(ctx, "c joins", isFrame(wire.OpJoin, func() string { return c.member.Client }))
	join(b)
	a.expect(ctx, "b joins", isFrame(wire.OpJoin, func() string { return b.member.Client }))
	c.expect(ctx, "b joins", isFrame(wire.OpJoin, func() string { return b.member.Client }))

	// Each line reaches every member, once and in order.
	a.say(ctx, room, "from a")
	c.say(ctx, room, "from c")
	for _, ch := range []*chatter{a, b, c} {
		ch.expect(ctx, "a's line", isLine("from a"))
		ch.expect(ctx, "c's line", isLine("from c"))
	}
	last = c.cur.String()
	gone := c.member.Client

	// c's connection drops; a says two things while c is away.
	client.Conn().CloseNow()
	a.expect(ctx, "c leaves", isFrame(wire.OpLeave, func() string { return gone }))
	a.say(ctx, room, "missed 1")
	a.say(ctx, room, "missed 2")
	for _, ch := range []*chatter{a, b} {
		ch.expect(ctx, "missed 1", isLine("missed 1"))
		ch.expect(ctx, "missed 2", isLine("missed 2"))
	}
	close(gate)
	f := c.expect(ctx, "c subscribed again", isFrame(wire.OpSubscribe, nil))
	if f.Frame.Cursor.String() != last {
		t.Fatalf("c resumed after %v, want %s", f.Frame.Cursor, last)
	}
	c.expect(ctx, "missed 1", isLine("missed 1"))
	c.expect(ctx, "missed 2", isLine("missed 2"))
	a.expect(ctx, "c back", isFrame(wire.OpJoin, func() string { return c.member.Client }))

	// Nothing else was delivered: after an end marker, each has read
	// exactly the lines above.
	b.say(ctx, room, "end")
	for _, ch := range []*chatter{a, b, c} {
		ch.expect(ctx, "end", isLine("end"))
	}

	// The states c went through: connecting, open, (drop) waiting,
	// connecting, open.
	var seq []string
	for len(seq) < 5 {
		select {
		case ev := <-states:
			seq = append(seq, ev.State.String())
		case <-ctx.Done():
			t.Fatalf("states so far: %v", seq)
		}
	}
	if got := strings.Join(seq, ","); got != "connecting,open,waiting,connecting,open" {
		t.Errorf("states = %s", got)
	}
}
