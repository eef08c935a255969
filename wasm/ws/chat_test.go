//go:build js && wasm

package ws_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/ws"
)

// chatMsg mirrors the chat schema of server/chat.go.
type chatMsg struct {
	Type     string     `json:"type"`
	Name     string     `json:"name,omitempty"`
	UserID   string     `json:"userid,omitempty"`
	Msg      string     `json:"msg,omitempty"`
	To       string     `json:"to,omitempty"`
	User     string     `json:"user,omitempty"`
	Room     string     `json:"room,omitempty"`
	Since    string     `json:"since,omitempty"`
	From     *chatUser  `json:"from,omitempty"`
	Cursor   string     `json:"cursor,omitempty"`
	Members  []chatUser `json:"members,omitempty"`
	Messages []chatMsg  `json:"messages,omitempty"`
	Error    string     `json:"error,omitempty"`
}

type chatUser struct {
	Name   string `json:"name"`
	UserID string `json:"userid"`
}

// rw is a Conn or a reconnecting Client.
type rw interface {
	Read(ctx context.Context) (ws.MessageType, []byte, error)
	Write(ctx context.Context, typ ws.MessageType, p []byte) error
}

type chatter struct {
	t    *testing.T
	name string
	c    rw
}

func (ch *chatter) send(ctx context.Context, m chatMsg) {
	ch.t.Helper()
	b, _ := json.Marshal(m)
	if err := ch.c.Write(ctx, ws.MessageText, b); err != nil {
		ch.t.Fatalf("%s: Write: %v", ch.name, err)
	}
}

// expect reads until match; it fails on a chat or room message skipped on
// the way (a message delivered to the wrong client). Event noise (login,
// join, leave, presence, history) may be skipped.
func (ch *chatter) expect(ctx context.Context, what string, match func(chatMsg) bool) chatMsg {
	ch.t.Helper()
	for {
		_, b, err := ch.c.Read(ctx)
		if err != nil {
			ch.t.Fatalf("%s: waiting for %s: %v", ch.name, what, err)
		}
		var m chatMsg
		if err := json.Unmarshal(b, &m); err != nil {
			ch.t.Fatalf("%s: bad JSON %s", ch.name, b)
		}
		if match(m) {
			return m
		}
		if m.Type == "chat" || m.Type == "room" || m.Type == "error" {
			ch.t.Fatalf("%s: while waiting for %s got an unexpected %s", ch.name, what, b)
		}
	}
}

func isMsg(typ, room, msg string) func(chatMsg) bool {
	return func(m chatMsg) bool { return m.Type == typ && m.Room == room && m.Msg == msg }
}

func members(m chatMsg) string {
	var ids []string
	for _, u := range m.Members {
		ids = append(ids, u.Name)
	}
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func login(ctx context.Context, t *testing.T, c rw, name string) *chatter {
	ch := &chatter{t: t, name: name, c: c}
	ch.send(ctx, chatMsg{Type: "login", Name: name, UserID: name + "@example.com"})
	ch.expect(ctx, "own login", func(m chatMsg) bool { return m.Type == "login" && m.From.Name == name })
	return ch
}

func TestChatRoomsAndReconnect(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	a := login(ctx, t, dial(t, ctx, "/ws/chat", nil), "a")
	b := login(ctx, t, dial(t, ctx, "/ws/chat", nil), "b")

	// c reconnects by itself: OnOpen logs in and rejoins r2 from the
	// cursor of the last room message c saw. The second OnOpen waits for
	// the gate, so c misses what a sends meanwhile.
	var lastCursor string
	gate := make(chan struct{})
	opens := 0
	states := make(chan ws.StateEvent, 100)
	client := ws.Reconnect(ctx, wsBase(t)+"/ws/chat", &ws.ReconnectOptions{
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
			login := []byte(`{"type":"login","name":"c","userid":"c@example.com"}`)
			join, _ := json.Marshal(chatMsg{Type: "join", Room: "r2", Since: lastCursor})
			if err := c.Write(ctx, ws.MessageText, login); err != nil {
				return err
			}
			return c.Write(ctx, ws.MessageText, join)
		},
	})
	defer client.Close()
	c := &chatter{t: t, name: "c", c: client}
	c.expect(ctx, "c's history", func(m chatMsg) bool { return m.Type == "history" && m.Room == "r2" })

	// Presence, one join at a time: r1 = a,b and r2 = a,c.
	a.send(ctx, chatMsg{Type: "join", Room: "r1"})
	a.expect(ctx, "r1 presence a", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r1" && members(m) == "a" })
	a.send(ctx, chatMsg{Type: "join", Room: "r2"})
	a.expect(ctx, "r2 presence a,c", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r2" && members(m) == "a,c" })
	c.expect(ctx, "r2 presence a,c", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r2" && members(m) == "a,c" })
	b.send(ctx, chatMsg{Type: "join", Room: "r1"})
	a.expect(ctx, "r1 presence a,b", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r1" && members(m) == "a,b" })
	b.expect(ctx, "r1 presence a,b", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r1" && members(m) == "a,b" })

	// Each message reaches exactly its recipients: expect fails on any
	// chat or room message that arrives where it should not.
	a.send(ctx, chatMsg{Type: "room", Room: "r1", Msg: "to r1"})
	a.expect(ctx, "r1 msg", isMsg("room", "r1", "to r1"))
	b.expect(ctx, "r1 msg", isMsg("room", "r1", "to r1"))
	c.send(ctx, chatMsg{Type: "room", Room: "r2", Msg: "to r2"})
	a.expect(ctx, "r2 msg", isMsg("room", "r2", "to r2"))
	lastCursor = c.expect(ctx, "r2 msg", isMsg("room", "r2", "to r2")).Cursor
	b.send(ctx, chatMsg{Type: "chat", To: "user", User: "c@example.com", Msg: "dm"})
	c.expect(ctx, "dm", isMsg("chat", "", "dm"))
	a.send(ctx, chatMsg{Type: "chat", To: "others", Msg: "others"})
	b.expect(ctx, "others", isMsg("chat", "", "others"))
	c.expect(ctx, "others", isMsg("chat", "", "others"))
	b.send(ctx, chatMsg{Type: "chat", To: "self", Msg: "self"})
	b.expect(ctx, "self", isMsg("chat", "", "self"))
	a.send(ctx, chatMsg{Type: "chat", To: "all", Msg: "all"})
	for _, ch := range []*chatter{a, b, c} {
		ch.expect(ctx, "all", isMsg("chat", "", "all"))
	}

	// c's connection drops; a sends two messages to r2 while c is away.
	client.Conn().CloseNow()
	a.expect(ctx, "c leaves r2", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r2" && members(m) == "a" })
	a.send(ctx, chatMsg{Type: "room", Room: "r2", Msg: "missed 1"})
	a.expect(ctx, "missed 1", isMsg("room", "r2", "missed 1"))
	a.send(ctx, chatMsg{Type: "room", Room: "r2", Msg: "missed 2"})
	a.expect(ctx, "missed 2", isMsg("room", "r2", "missed 2"))
	close(gate)
	h := c.expect(ctx, "history after reconnect", func(m chatMsg) bool { return m.Type == "history" && m.Room == "r2" })
	if len(h.Messages) != 2 || h.Messages[0].Msg != "missed 1" || h.Messages[1].Msg != "missed 2" {
		t.Fatalf("history after reconnect = %+v, want exactly the 2 missed", h.Messages)
	}
	a.expect(ctx, "c back in r2", func(m chatMsg) bool { return m.Type == "presence" && m.Room == "r2" && members(m) == "a,c" })

	// Nothing else was delivered: each sends itself an end marker and must
	// see no chat or room message before it.
	for _, ch := range []*chatter{a, b, c} {
		ch.send(ctx, chatMsg{Type: "chat", To: "self", Msg: "end"})
		ch.expect(ctx, "end", isMsg("chat", "", "end"))
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
