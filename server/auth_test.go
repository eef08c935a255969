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
	"github.com/cometwasm/comet/server/wire"
)

// TestDemoTokens: with -token-secret-file the realtime endpoints need a
// token, the demo signs one per user, and each user reads only their own
// private topics.
func TestDemoTokens(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "key")
	must(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	ts := newTestServer(t, func(c *config) { c.TokenSecretFile = key })
	token := func(user string) string {
		resp, body := postJSON(t, ts.URL+"/demo/token", `{"user":"`+user+`"}`)
		equal(t, "token status", resp.StatusCode, 200)
		var v struct{ Token string }
		must(t, json.Unmarshal(body, &v))
		return v.Token
	}
	alice, bob := token("alice"), token("bob")
	for _, tc := range []struct {
		name, url string
		status    int
	}{
		{"no token", "/realtime/poll?topic=news", 401},
		{"signed in", "/realtime/poll?topic=news&token=" + alice, 200},
		{"own private topic", "/realtime/poll?topic=user:alice:inbox&token=" + alice, 200},
		{"another user's private topic", "/realtime/poll?topic=user:alice:inbox&token=" + bob, 403},
		{"the clock, anonymous", "/realtime/poll?topic=clock", 401},
	} {
		resp, body := get(t, ts.URL+tc.url)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	resp, body := postJSON(t, ts.URL+"/demo/token", `{"user":"a:b"}`)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "user") {
		t.Errorf("a user id with a colon: %d %s, want 400", resp.StatusCode, body)
	}
	open := newTestServer(t, nil)
	resp, _ = postJSON(t, open.URL+"/demo/token", `{"user":"alice"}`)
	equal(t, "token without -token-secret-file", resp.StatusCode, 404)
	resp, _ = get(t, open.URL+"/realtime/poll?topic=news")
	equal(t, "open poll without -token-secret-file", resp.StatusCode, 200)
}

// TestChatIdentityFromToken: with -token-secret-file a chat session needs
// a token, and the user comes from it: every session of the user is the
// one member "u."+user, and its lines are stored under that name.
func TestChatIdentityFromToken(t *testing.T) {
	t.Parallel()
	ts, token := tokenServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, wsURL(ts.URL, "/realtime/session/ws"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}}); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("a chat session without a token: %v, want 401", err)
	}
	tok := token("alice")
	a1, a2 := dialChat(ctx, t, ts, tok), dialChat(ctx, t, ts, tok)
	for _, p := range []*chatPeer{a1, a2} {
		if m := p.hello.Member; m == nil || m.Client != "u.alice" || m.User != "alice" {
			t.Fatalf("hello member %+v, want u.alice", m)
		}
	}
	a2.join(1, "chat:id", "", true)
	a1.join(1, "chat:id", "", true)
	a2.send(wire.Command{Op: wire.OpPresence, ID: 1, T: 1})
	if who := a2.frame(wire.OpPresence); len(who.Members) != 1 || who.Members[0].Client != "u.alice" {
		t.Fatalf("who = %+v, want alice once for her two sessions", who.Members)
	}
	a1.say("chat:id", "it is me", "", "")
	if l := a2.line(); l.From.User != "alice" || !strings.Contains(l.Text, "it is me") {
		t.Fatalf("read %+v, want alice's line", l)
	}
}
