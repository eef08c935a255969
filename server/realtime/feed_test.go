//go:build !js

package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
)

// expiring authenticates everyone as "u" until ttl from the request.
type expiring struct{ ttl time.Duration }

func (e expiring) Authenticate(*http.Request) (realtime.Identity, error) {
	return realtime.Identity{User: "u", Expires: time.Now().Add(e.ttl)}, nil
}

func (expiring) Authorize(context.Context, realtime.Identity, string, realtime.Action) error {
	return nil
}

// feedBrokers are the two ways a single-topic feed is followed: in the
// memory broker's callbacks, and by a goroutine per connection (Redis).
var feedBrokers = []struct {
	name string
	new  func(t *testing.T, l broker.Limits) broker.Broker
}{
	{"memory", func(t *testing.T, l broker.Limits) broker.Broker {
		b := memory.New(l)
		t.Cleanup(func() { b.Close() })
		return b
	}},
	{"redis", func(t *testing.T, l broker.Limits) broker.Broker {
		srv := redisproc.ForTest(t, redisproc.Config{})
		b, err := redis.New(redis.Config{URL: srv.URL(0), Timeout: 2 * time.Second, Limits: l})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
}

// flood publishes 40 MiB to topic (64 messages of 4 KiB, 160 times).
func flood(t *testing.T, b broker.Broker, topic string) {
	big := `"` + strings.Repeat("x", 4096) + `"`
	batch := make([]string, 64)
	for i := range batch {
		batch[i] = big
	}
	for range 160 {
		publish(t, b, topic, batch...)
	}
}

// feedEnvelope is what a test reads of one envelope.
type feedEnvelope struct {
	Type   string
	Offset uint64
	Data   json.RawMessage
}

// reason is the reason of a "_gap" envelope.
func (e feedEnvelope) reason() string {
	var gap struct{ Reason string }
	json.Unmarshal(e.Data, &gap)
	return gap.Reason
}

// TestTopicFeedEnds: how a single-topic WebSocket's or SSE stream's
// follow ends, on either broker: a reader that falls behind the history
// gets "_gap" (the WebSocket then closes 1000 "gap"; the SSE stream stays
// open with heartbeats, so the browser does not reconnect into the same
// gap); an identity that expires closes the WebSocket with 4401 and ends
// the stream.
func TestTopicFeedEnds(t *testing.T) {
	for _, bk := range feedBrokers {
		t.Run(bk.name+"/ws slow reader", func(t *testing.T) {
			b := bk.new(t, broker.Limits{History: 16})
			n := newNode(t, realtime.Config{Broker: b, StreamWriteTimeout: time.Minute})
			ctx := testCtx(t)
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"ws?topic=slow", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			read := func() (feedEnvelope, error) {
				var env feedEnvelope
				_, m, err := c.Read(ctx)
				if err == nil {
					err = json.Unmarshal(m, &env)
				}
				return env, err
			}
			if env, err := read(); err != nil || env.Type != "_open" {
				t.Fatalf("first envelope %+v, %v; want _open", env, err)
			}
			publish(t, b, "slow", "0")
			if env, err := read(); err != nil || env.Offset != 1 {
				t.Fatalf("second envelope %+v, %v; want the message at offset 1", env, err)
			}
			flood(t, b, "slow")
			got := 0
			for {
				env, err := read()
				if err != nil {
					t.Fatalf("after %d messages: %v, want a _gap first", got, err)
				}
				if env.Type == "_gap" {
					if env.reason() != "evicted" {
						t.Fatalf("gap %+v, want reason evicted", env)
					}
					break
				}
				got++
			}
			if _, err := read(); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("after the gap: %v, want close 1000", err)
			}
			if got >= 160*64 {
				t.Fatalf("every message arrived: the reader was not slow")
			}
		})
		t.Run(bk.name+"/ws expiry", func(t *testing.T) {
			b := bk.new(t, broker.Limits{})
			n := newNode(t, realtime.Config{Broker: b, Auth: expiring{300 * time.Millisecond}})
			ctx := testCtx(t)
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+"ws?topic=expiry&heartbeat=100", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			var types []string
			for {
				_, m, err := c.Read(ctx)
				if err != nil {
					if got := websocket.CloseStatus(err); got != realtime.CloseTokenExpired {
						t.Fatalf("closed with %v (%v) after %v, want 4401", got, err, types)
					}
					break
				}
				var env feedEnvelope
				json.Unmarshal(m, &env)
				types = append(types, env.Type)
			}
			if len(types) < 2 || types[0] != "_open" || types[1] != "_ping" {
				t.Fatalf("envelopes %v, want _open then heartbeats", types)
			}
		})
		t.Run(bk.name+"/sse slow reader", func(t *testing.T) {
			b := bk.new(t, broker.Limits{History: 16})
			n := newNode(t, realtime.Config{Broker: b, StreamWriteTimeout: time.Minute})
			resp, _ := rawGet(t, n, "/realtime/sse?topic=slow&heartbeat=100", "1.1")
			events := sseEnvelopes(t, resp.Body)
			if env := <-events; env.Type != "_open" {
				t.Fatalf("first envelope %+v, want _open", env)
			}
			publish(t, b, "slow", "0")
			if env := <-events; env.Offset != 1 {
				t.Fatalf("second envelope %+v, want the message at offset 1", env)
			}
			flood(t, b, "slow") // the reader below has stopped: its channel is full
			got := 0
			for env := range events {
				if env.Type == "_gap" {
					if env.reason() != "evicted" {
						t.Fatalf("gap %+v, want reason evicted", env)
					}
					break
				}
				got++
			}
			if env, ok := <-events; !ok || env.Type != "_ping" {
				t.Fatalf("after the gap %+v (open %v), want the stream held with heartbeats", env, ok)
			}
			if got >= 160*64 {
				t.Fatalf("every message arrived: the reader was not slow")
			}
		})
		t.Run(bk.name+"/sse expiry", func(t *testing.T) {
			b := bk.new(t, broker.Limits{})
			n := newNode(t, realtime.Config{Broker: b, Auth: expiring{300 * time.Millisecond}})
			resp, _ := rawGet(t, n, "/realtime/sse?topic=expiry&heartbeat=100", "1.1")
			var types []string
			for env := range sseEnvelopes(t, resp.Body) {
				types = append(types, env.Type)
			}
			if len(types) < 2 || types[0] != "_open" || types[1] != "_ping" {
				t.Fatalf("envelopes %v, want _open then heartbeats until the end", types)
			}
		})
	}
}

// sseEnvelopes reads the data of each SSE event of body as an envelope,
// until the stream ends; the channel holds one envelope, so a test that
// stops taking them stops the reading.
func sseEnvelopes(t *testing.T, body io.Reader) <-chan feedEnvelope {
	ch := make(chan feedEnvelope, 1)
	go func() {
		defer close(ch)
		br := bufio.NewReader(body)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			data, ok := bytes.CutPrefix(line, []byte("data:"))
			if !ok {
				continue
			}
			var env feedEnvelope
			if err := json.Unmarshal(data, &env); err != nil {
				t.Errorf("event data %q: %v", data, err)
				return
			}
			ch <- env
		}
	}()
	return ch
}
