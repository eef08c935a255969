//go:build !js

package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
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

// blocking hides the memory broker's TryNext, so a stream is followed by
// a goroutine of its own (as on Redis).
type blocking struct{ broker.Broker }

func (b blocking) Subscribe(ctx context.Context, topic string, from wire.Cursor) (broker.Subscription, error) {
	sub, err := b.Broker.Subscribe(ctx, topic, from)
	if sub == nil {
		return nil, err
	}
	return struct{ broker.Subscription }{sub}, err
}

// sseReader reads the SSE events of br one at a time, each as its type
// (empty for an unnamed one) and data joined by a space: "_flush " for a
// flush, "message 4" for the envelope of a message whose data is 4.
func sseReader(t *testing.T, br *bufio.Reader) func() string {
	next := sseEvents(t, br)
	return func() string {
		t.Helper()
		event, lines := next()
		if event != "" {
			return event + " " + strings.Join(lines, "\n")
		}
		m := envelope(t, strings.Join(lines, "\n"))
		return m.Type + " " + string(m.Data)
	}
}

// TestSSEFlush: with flush=1 a single-topic SSE stream sends a "_flush"
// event, with empty data and no id, after every write of several
// messages (a replay, a publish of a batch) and none after a lone
// message; without flush=1 it sends none. On the memory broker's
// callbacks, on the handler's goroutine (HTTP/1.0) and on a goroutine of
// its own (a broker that cannot call back).
func TestSSEFlush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, proto string
		wrap        bool
	}{{"callbacks", "1.1", false}, {"handler", "1.0", false}, {"goroutine", "1.1", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.New(broker.Limits{})
			t.Cleanup(func() { mem.Close() })
			var b broker.Broker = mem
			if tc.wrap {
				b = blocking{mem}
			}
			n := newNode(t, realtime.Config{Broker: b})
			if resp, err := http.Get(n.url + "sse?topic=fl&flush=yes"); err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("flush=yes: %v %v, want 400", resp, err)
			} else {
				resp.Body.Close()
			}
			r := publish(t, mem, "fl", `1`, `2`, `3`)
			from := wire.Cursor{Epoch: r.Cursor.Epoch, Offset: r.Cursor.Offset - 3}.String()
			for _, flush := range []bool{true, false} {
				q := "/realtime/sse?named=0&topic=fl&cursor=" + from
				if flush {
					q += "&flush=1"
				}
				resp, c := rawGet(t, n, q, tc.proto)
				next := sseReader(t, bufio.NewReader(resp.Body))
				expect := func(when string, want ...string) {
					t.Helper()
					if !flush {
						want = slices.DeleteFunc(want, func(ev string) bool { return ev == "_flush " })
					}
					for _, w := range want {
						if got := next(); got != w {
							t.Fatalf("flush=%v, %s: got %q, want %q (of %q)", flush, when, got, w, want)
						}
					}
				}
				expect("replay", "_open null", "message 1", "message 2", "message 3", "_flush ")
				publish(t, mem, "fl", `4`)
				expect("a lone message", "message 4") // no flush behind it: the next is 5
				publish(t, mem, "fl", `5`, `6`)
				expect("a batch", "message 5", "message 6", "_flush ")
				publish(t, mem, "fl", `7`)
				expect("a lone message", "message 7")
				c.Close() // not resp.Body.Close: that reads the endless body to its end
			}
		})
	}
}
