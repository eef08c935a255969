//go:build !js

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
