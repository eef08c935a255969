//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/wire"
)

// TestRedisBrokerNodes runs two demo servers on one Redis (-broker): a
// message published on one is polled on the other with the same cursor,
// an idempotency key is shared, and /healthz answers 503 while Redis is
// down, 200 once it is back.
func TestRedisBrokerNodes(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{AppendOnly: true, Fsync: "always"})
	nodes := make([]*testServer, 2)
	for i := range nodes {
		nodes[i] = newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	}
	a, b := nodes[0], nodes[1]
	resp, body := get(t, a.URL+"/healthz")
	equal(t, "healthz status", resp.StatusCode, http.StatusOK)
	if !strings.Contains(string(body), `"broker":"redis://`+srv.Addr) {
		t.Errorf("healthz body %s does not name the Redis broker", body)
	}
	publish := func(ts *testServer, key string) (int, wire.PublishReply) {
		t.Helper()
		resp, body := postJSON(t, ts.URL+"/realtime/publish", `{"topic":"nodes","data":{"n":1}}`, "Idempotency-Key", key)
		var r wire.PublishReply
		if resp.StatusCode == http.StatusOK {
			must(t, json.Unmarshal(body, &r))
		}
		return resp.StatusCode, r
	}
	code, first := publish(a, "k1")
	equal(t, "publish on a", code, http.StatusOK)
	code, again := publish(b, "k1")
	equal(t, "repeat on b", code, http.StatusOK)
	if !again.Repeat || again.Cursor != first.Cursor {
		t.Errorf("repeat on b = %+v, want the first reply %+v with repeat", again, first)
	}
	resp, body = get(t, b.URL+"/realtime/poll?topic=nodes&cursor="+first.Cursor.Epoch+"-0")
	equal(t, "poll on b", resp.StatusCode, http.StatusOK)
	var batch wire.Batch
	must(t, json.Unmarshal(body, &batch))
	if len(batch.Messages) != 1 || batch.Messages[0].Cursor() != first.Cursor || string(batch.Messages[0].Data) != `{"n":1}` {
		t.Fatalf("poll on b = %s, want the message published on a", body)
	}

	srv.Kill()
	resp, body = get(t, a.URL+"/healthz")
	equal(t, "healthz with Redis down", resp.StatusCode, http.StatusServiceUnavailable)
	if !strings.Contains(string(body), `"ok":false`) || !strings.Contains(string(body), "unavailable") {
		t.Errorf("healthz body with Redis down: %s", body)
	}
	if code, _ := publish(a, "k2"); code != http.StatusServiceUnavailable {
		t.Errorf("publish with Redis down = %d, want 503", code)
	}
	must(t, srv.Restart())
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, _ = get(t, b.URL+"/healthz")
		if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	equal(t, "healthz with Redis back", resp.StatusCode, http.StatusOK)
	// The first publish after the restart, with a key: it is retried on
	// a fresh connection if the one Redis closed fails it.
	code, next := publish(b, "k2")
	equal(t, "publish with Redis back", code, http.StatusOK)
	if next.Cursor != (wire.Cursor{Epoch: first.Cursor.Epoch, Offset: first.Cursor.Offset + 1}) {
		t.Errorf("publish after the restart = %+v, want the offset after %v in the same epoch (AOF)", next, first.Cursor)
	}
}

func TestBrokerFlag(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"localhost:6379", "http://x:1/0", "redis://"} {
		cfg := defaultConfig()
		cfg.Broker = bad
		cfg.DataDir = t.TempDir()
		if s, err := newServer(cfg, t.Logf); err == nil {
			s.Close()
			t.Errorf("-broker %q: accepted", bad)
		} else if !strings.Contains(err.Error(), "-broker") {
			t.Errorf("-broker %q: %v, want an error naming the flag", bad, err)
		}
	}
}

// TestRedisBrokerLiveAcrossNodes: a stream reader and long pollers on node
// b receive, exactly once and in order, what is published on node a.
func TestRedisBrokerLiveAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	a := newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	b := newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	const n, pollers = 100, 5
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, head := getBatch(t, b.URL+"/realtime/poll?topic=live")
	errs := make(chan error, pollers+1)
	var wg sync.WaitGroup
	wg.Go(func() { // HTTP streaming, NDJSON
		req, _ := http.NewRequestWithContext(ctx, "GET", b.URL+"/realtime/stream?topic=live&cursor="+head.Cursor.String(), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errs <- err
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		want := head.Cursor.Offset + 1
		for want <= head.Cursor.Offset+n && sc.Scan() {
			var m wire.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				errs <- fmt.Errorf("stream line %q: %w", sc.Text(), err)
				return
			}
			if m.IsControl() {
				continue
			}
			if m.Offset != want || string(m.Data) != strconv.Itoa(int(want)) {
				errs <- fmt.Errorf("stream got %d %s, want %d", m.Offset, m.Data, want)
				return
			}
			want++
		}
		if want != head.Cursor.Offset+n+1 {
			errs <- fmt.Errorf("stream ended at %d: %v", want, sc.Err())
		}
	})
	for range pollers {
		wg.Go(func() { // long polling from the cursor of the last batch
			cur, got := head.Cursor, 0
			for got < n && ctx.Err() == nil {
				resp, batch := getBatch(t, b.URL+"/realtime/longpoll?topic=live&timeout=5000&cursor="+cur.String())
				if resp.StatusCode != http.StatusOK || batch.Gap != nil {
					errs <- fmt.Errorf("long poll: %d, gap %v", resp.StatusCode, batch.Gap)
					return
				}
				for _, m := range batch.Messages {
					if m.Offset != cur.Offset+1 {
						errs <- fmt.Errorf("long poll got %d after %v", m.Offset, cur)
						return
					}
					cur = m.Cursor()
					got++
				}
			}
		})
	}
	for b.rt.Subscribers() < 1 { // the stream is live on b before publishing
		time.Sleep(5 * time.Millisecond)
	}
	for i := range n {
		resp, body := postJSON(t, a.URL+"/realtime/publish", fmt.Sprintf(`{"topic":"live","data":%d}`, int(head.Cursor.Offset)+i+1))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("publish %d on a: %d %s", i, resp.StatusCode, body)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClockOnceAcrossNodes: two nodes on one Redis both run the clock, and
// the topic still gets one tick per second (the second is the
// idempotency key).
func TestClockOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	a := newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := a.rt.Broker().Subscribe(ctx, topicClock, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	seen := map[string]bool{}
	for len(seen) < 4 {
		ms, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			var tick struct{ Time string }
			must(t, json.Unmarshal(m.Data, &tick))
			if seen[tick.Time] {
				t.Fatalf("two ticks for %s", tick.Time)
			}
			seen[tick.Time] = true
		}
	}
}

// TestChatAcrossNodes: two users on two nodes of one Redis chat in a room
// on sessions: each line reaches the other node's member once, presence
// crosses nodes, and a member who reconnects to the other node resumes
// from its cursor.
func TestChatAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	na := newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	nb := newTestServer(t, func(c *config) { c.Broker = srv.URL(0) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := dialChat(ctx, t, na, ""), dialChat(ctx, t, nb, "")
	a.join(1, "chat:r", "", true)
	b.join(1, "chat:r", "", true)
	for {
		if j := a.frame(wire.OpJoin); j.Member != nil && j.Member.Client == b.hello.Member.Client {
			break // b's join, from the other node
		}
	}
	pub := a.say("chat:r", "from a", "", "")
	got := b.line()
	if got.Text != "from a" || got.From.Client != a.hello.Member.Client || got.Cursor != pub.Cursor {
		t.Fatalf("b on the other node got %+v, want a's line at %v", got, pub.Cursor)
	}
	if mine := a.line(); mine.Cursor != got.Cursor {
		t.Fatalf("a's own line %+v, b saw cursor %v", mine, got.Cursor)
	}
	b.say("chat:r", "from b", "", "")
	if l := a.line(); l.Text != "from b" {
		t.Fatalf("a got %+v, want b's line", l)
	}
	last := b.line()
	// b moves to node a (its node died) and resumes from its cursor.
	b.c.CloseNow()
	a.say("chat:r", "while b was away", "", "")
	a.line()
	b2 := dialChat(ctx, t, na, "")
	if f := b2.join(1, "chat:r", last.Cursor.String(), true); f.Op != wire.OpSubscribe {
		t.Fatalf("b resumes on the other node: %+v", f)
	}
	if l := b2.line(); l.Text != "while b was away" {
		t.Fatalf("b's first line on the other node = %+v", l)
	}
	a.say("chat:r", "welcome back", "", "")
	if l := b2.line(); l.Text != "welcome back" {
		t.Fatalf("b after the move got %+v", l)
	}
}
