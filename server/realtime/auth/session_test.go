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
