//go:build !js

package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cometwasm/comet/server/realtime/auth"
	"github.com/cometwasm/comet/server/wire"
)

// wsSession is a test client of session/ws that keeps the frames it reads.
type wsSession struct {
	t      *testing.T
	ctx    context.Context
	c      *websocket.Conn
	frames []wire.Frame
}

func dialSession(t *testing.T, ctx context.Context, base, token string) *wsSession {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/rt/session/ws?token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &wsSession{t: t, ctx: ctx, c: c}
}

func (s *wsSession) send(cmd string) {
	if err := s.c.Write(s.ctx, websocket.MessageText, []byte(cmd)); err != nil {
		s.t.Fatal(err)
	}
}

// until reads frames until one matches and returns it.
func (s *wsSession) until(what string, match func(wire.Frame) bool) wire.Frame {
	s.t.Helper()
	for {
		for i, f := range s.frames {
			if match(f) {
				s.frames = append(s.frames[:i:i], s.frames[i+1:]...)
				return f
			}
		}
		_, data, err := s.c.Read(s.ctx)
		if err != nil {
			s.t.Fatalf("waiting for %s: %v", what, err)
		}
		wire.SplitLines(data, func(line []byte) error {
			if l, err := wire.ParseLine(line); err == nil && !l.IsMessage {
				s.frames = append(s.frames, l.Frame)
			}
			return nil
		})
	}
}

func users(ms []wire.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.User)
	}
	return out
}

// TestPresenceOnePerUser: presence shows the user id of the token, and two
// sessions of one user are one member: the user leaves with the last.
func TestPresenceOnePerUser(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: secret}
	ts := server(t, tokens)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok := func(user string) string { s, _ := tokens.Issue(user, time.Minute, nil, nil); return s }
	sub := `{"op":"sub","id":1,"t":1,"topic":"room","presence":true}`
	subbed := func(f wire.Frame) bool { return f.Op == wire.OpSubscribe && f.ID == 1 }
	watcher := dialSession(t, ctx, ts.URL, tok("bob"))
	watcher.send(sub)
	watcher.until("bob's sub", subbed)
	a1 := dialSession(t, ctx, ts.URL, tok("alice"))
	a1.send(sub)
	a1.until("alice's first sub", subbed)
	a2 := dialSession(t, ctx, ts.URL, tok("alice"))
	a2.send(sub)
	if got := users(a2.until("alice's second sub", subbed).Members); len(got) != 2 {
		t.Fatalf("members after alice's second session = %v, want alice and bob once each", got)
	}
	alice := func(op string) func(wire.Frame) bool {
		return func(f wire.Frame) bool { return f.Op == op && f.Member != nil && f.Member.User == "alice" }
	}
	watcher.until("alice's join", alice(wire.OpJoin))
	a1.c.Close(websocket.StatusNormalClosure, "")
	watcher.send(`{"op":"who","id":2,"t":1}`)
	who := watcher.until("who", func(f wire.Frame) bool { return f.ID == 2 })
	if got := users(who.Members); len(got) != 2 {
		t.Fatalf("who after one of alice's sessions left = %v, want alice and bob", got)
	}
	for _, f := range watcher.frames {
		if alice(wire.OpLeave)(f) || alice(wire.OpJoin)(f) {
			t.Fatalf("presence event %+v while alice still had a session", f)
		}
	}
	a2.c.Close(websocket.StatusNormalClosure, "")
	watcher.until("alice's leave", alice(wire.OpLeave))
}

// TestSessionPermissions: over one session, a forbidden subscribe or
// publish gets an "err" frame with code "forbidden" and the rest of the
// session goes on.
func TestSessionPermissions(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{Secret: secret, Rules: demoRules}
	ts := server(t, tokens)
	alice, _ := tokens.Issue("alice", time.Minute, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/rt/session/ws"
	if _, resp, err := websocket.Dial(ctx, url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("session without a token: %v (%v), want 401", err, resp)
	}
	c, _, err := websocket.Dial(ctx, url+"?token="+alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(cmd string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	frames := map[uint64]wire.Frame{}
	// until reads frames until the one answering id arrives.
	until := func(id uint64) wire.Frame {
		for {
			if f, ok := frames[id]; ok {
				return f
			}
			_, data, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for the answer to %d: %v", id, err)
			}
			wire.SplitLines(data, func(line []byte) error {
				if l, err := wire.ParseLine(line); err == nil && !l.IsMessage && l.Frame.ID != 0 {
					frames[l.Frame.ID] = l.Frame
				}
				return nil
			})
		}
	}
	send(`{"op":"sub","id":1,"t":1,"topic":"user:bob:inbox"}`)
	send(`{"op":"pub","id":2,"topic":"clock","data":1}`)
	send(`{"op":"sub","id":3,"t":2,"topic":"user:alice:inbox"}`)
	send(`{"op":"pub","id":4,"topic":"user:alice:inbox","data":1,"key":"k1"}`)
	for id, want := range map[uint64]string{1: wire.OpError, 2: wire.OpError, 3: wire.OpSubscribe, 4: wire.OpPublish} {
		f := until(id)
		if f.Op != want || want == wire.OpError && (f.Code != wire.CodeForbidden || !strings.Contains(f.Error, "forbidden")) {
			t.Errorf("answer to %d = %+v, want %s", id, f, want)
		}
	}
}
