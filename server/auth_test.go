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

// TestChatIdentityFromToken: with -token-secret-file the chat needs a
// token, and the userid comes from it, never from the login message.
func TestChatIdentityFromToken(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "key")
	must(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef"), 0o600))
	ts := newTestServer(t, func(c *config) { c.TokenSecretFile = key })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, wsURL(ts.URL, "/ws/chat"), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}}); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("chat without a token: %v, want 401", err)
	}
	resp, body := postJSON(t, ts.URL+"/demo/token", `{"user":"alice"}`)
	equal(t, "token status", resp.StatusCode, 200)
	var v struct{ Token string }
	must(t, json.Unmarshal(body, &v))
	dial := func() *websocket.Conn {
		c, _, err := websocket.Dial(ctx, wsURL(ts.URL, "/ws/chat?token="+v.Token), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {ts.URL}}})
		must(t, err)
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	read := func(c *websocket.Conn) chatMsg {
		var m chatMsg
		_, data, err := c.Read(ctx)
		must(t, err)
		must(t, json.Unmarshal(data, &m))
		return m
	}
	c := dial()
	must(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"login","name":"Admin","userid":"admin"}`)))
	if m := read(c); m.Type != "error" || !strings.Contains(m.Error, "token") {
		t.Fatalf("login claiming another userid: %+v, want an error naming the token", m)
	}
	must(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"login","name":"Alice"}`)))
	if m := read(c); m.Type != "login" || m.From == nil || m.From.UserID != "alice" || m.From.Name != "Alice" {
		t.Fatalf("login = %+v, want userid alice from the token", m)
	}
	c2 := dial() // a second connection of the same user is that user too
	must(t, c2.Write(ctx, websocket.MessageText, []byte(`{"type":"login"}`)))
	if m := read(c2); m.Type != "login" || m.From == nil || m.From.UserID != "alice" {
		t.Fatalf("second login = %+v, want alice", m)
	}
}
