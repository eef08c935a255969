//go:build !js

package realtime_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
	"github.com/cometwasm/comet/server/wire"
)

// TestSessionAuth: sessions authenticate at connect (401 without a
// token), every subscribe, publish and who is authorized ("forbidden"
// frames), the member is the token's user, and commands POSTed with
// another user's token are refused.
func TestSessionAuth(t *testing.T) {
	t.Parallel()
	tokens := &auth.Tokens{
		Secret: []byte("a key of at least 32 random bytes!"),
		Rules: []auth.Rule{
			{Pattern: "user:{sub}:*", Subscribe: auth.Users, Publish: auth.Users},
			{Pattern: "user:*", Subscribe: auth.Nobody, Publish: auth.Nobody},
			{Pattern: "*", Subscribe: auth.Users, Publish: auth.Users},
		},
	}
	a, b, _ := twoNodes(t, realtime.Config{Auth: tokens})
	alice, _ := tokens.Issue("alice", time.Hour, nil, nil)
	bob, _ := tokens.Issue("bob", time.Hour, nil, nil)
	for _, path := range []string{"session/sse", "session/stream", "session/poll?sub=1,x,", "session/longpoll?sub=1,x,",
		"sse?topic=a&topic=b", "stream?topic=a&topic=b", "poll?topic=a&topic=b"} {
		if status, _ := get(t, a, path); status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", path, status)
		}
	}
	if status, _ := get(t, a, "sse?topic=user:alice:a&topic=user:bob:b&token="+alice); status != http.StatusForbidden {
		t.Errorf("many topics with one forbidden: %d, want 403", status)
	}
	if ls := pollLines(t, a, "session/poll?sub=1,user:bob:x,&sub=2,user:alice:x,&token="+alice); len(ls) != 2 || ls[0].Frame.Code != wire.CodeForbidden || ls[1].Frame.Op != wire.OpSubscribe {
		t.Errorf("poll: %s", describe(ls))
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			var c *client
			if tr.name == "ws" {
				c = tr.open(t, a, b, "token="+alice)
			} else {
				c = openStream(t, a, tr.name, "token="+alice, b, nil)
				c.send = func(cmds ...wire.Command) { // with alice's token
					t.Helper()
					body, _ := json.Marshal(cmds)
					req, _ := http.NewRequest("POST", b.url+"session/cmd?session="+c.hello.Session, bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+alice)
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != http.StatusAccepted {
						t.Fatalf("POST: %v %v", err, resp)
					}
					resp.Body.Close()
				}
			}
			if c.hello.Member.User != "alice" {
				t.Fatalf("hello member %+v, want user alice", c.hello.Member)
			}
			// A topic per transport: the parallel sessions are one member
			// (alice), so only the first on a topic would see its own join.
			for _, tc := range []struct {
				cmd  wire.Command
				code string
			}{
				{wire.Command{Op: wire.OpSubscribe, T: 1, Topic: "user:alice:inbox-" + tr.name, Presence: true}, ""},
				{wire.Command{Op: wire.OpSubscribe, T: 2, Topic: "user:bob:inbox"}, wire.CodeForbidden},
				{wire.Command{Op: wire.OpPublish, Topic: "user:bob:inbox", Data: json.RawMessage(`1`)}, wire.CodeForbidden},
				{wire.Command{Op: wire.OpPresence, Topic: "user:bob:inbox"}, wire.CodeForbidden},
			} {
				c.send(tc.cmd)
				l := c.next()
				if tc.code == "" {
					if l.Frame.Op != tc.cmd.Op || l.Frame.Members[0].User != "alice" {
						t.Fatalf("%+v: %+v", tc.cmd, l)
					}
					c.frame(wire.OpJoin)
					continue
				}
				if l.Frame.Op != wire.OpError || l.Frame.Code != tc.code {
					t.Fatalf("%+v: %+v, want err %s", tc.cmd, l, tc.code)
				}
			}
			if tr.name == "ws" {
				return
			}
			body, _ := json.Marshal([]wire.Command{{Op: wire.OpUnsubscribe, T: 1}})
			req, _ := http.NewRequest("POST", b.url+"session/cmd?session="+c.hello.Session, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+bob)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST as bob: %v %v", err, resp)
			}
			resp.Body.Close()
			if f := c.frame(wire.OpError); f.Code != wire.CodeForbidden {
				t.Fatalf("bob's command to alice's session: %+v", f)
			}
		})
	}
}

// TestSenderTopics: a client's publish to a sender topic is stored with
// the sender the server knows, whatever the data claims.
func TestSenderTopics(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{SenderTopics: []string{"room:*"}})
	c := dialWS(t, n, "sub=1,room:a,&sub=2,plain,", nil)
	c.frame(wire.OpSubscribe)
	c.frame(wire.OpSubscribe)
	forged := json.RawMessage(`{"from":{"client":"x","user":"admin"},"data":"hi"}`)
	c.send(wire.Command{Op: wire.OpPublish, ID: 1, Topic: "room:a", Data: forged, Key: "s1"},
		wire.Command{Op: wire.OpPublish, ID: 2, Topic: "plain", Data: json.RawMessage(`"as is"`)})
	got := map[int]string{}
	for len(got) < 2 {
		if l := c.next(); l.IsMessage {
			got[l.T] = string(l.Data)
		}
	}
	var sent realtime.Sent
	if err := json.Unmarshal([]byte(got[1]), &sent); err != nil || sent.From.Client != c.hello.Member.Client || string(sent.Data) != string(forged) {
		t.Fatalf("stored %s, want the session's member and the data as sent", got[1])
	}
	if got[2] != `"as is"` {
		t.Fatalf("a plain topic stored %s", got[2])
	}
	resp, err := http.Post(n.url+"publish", "application/json", bytes.NewReader([]byte(`{"topic":"room:a","data":1}`)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST publish: %v %v", err, resp)
	}
	resp.Body.Close()
	for {
		if l := c.next(); l.IsMessage {
			if string(l.Data) != `{"from":{"client":"","user":""},"data":1}` {
				t.Fatalf("POST publish stored %s", l.Data)
			}
			break
		}
	}
}
