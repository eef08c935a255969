//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

func dialWS(t *testing.T, ctx context.Context, url, origin string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protocols})
}

func TestWSEcho(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL, "echo.v1")
	must(t, err)
	defer c.CloseNow()
	equal(t, "subprotocol", c.Subprotocol(), "echo.v1")
	c.SetReadLimit(-1)
	for _, n := range []int{0, 1, 125, 126, 65536, 4 << 20} {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			p := bytes.Repeat([]byte("a"), n)
			must(t, c.Write(ctx, typ, p))
			gt, got, err := c.Read(ctx)
			must(t, err)
			if gt != typ || !bytes.Equal(got, p) {
				t.Fatalf("echo of %d bytes %v: got %d bytes %v", n, typ, len(got), gt)
			}
		}
	}
	// Over the read limit: the server closes with 1009.
	must(t, c.Write(ctx, websocket.MessageBinary, make([]byte, ts.ws.cfg.EchoReadLimit+1)))
	_, _, err = c.Read(ctx)
	equal(t, "close status over the read limit", websocket.CloseStatus(err), websocket.StatusMessageTooBig)
}

func TestWSOrigin(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"page origin", ts.URL, true},
		{"second origin", ts.URL2, true},
		{"no origin (not a browser)", "", true},
		{"forged origin", "http://evil.example", false},
		{"other scheme, same host", strings.Replace(ts.URL2, "http://", "https://", 1), false},
		{"null origin", "null", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/ws/echo", "/realtime/session/ws", "/ws/realtime?topic=x"} {
				c, resp, err := dialWS(t, ctx, wsURL(ts.URL, path), tc.origin)
				if tc.ok {
					must(t, err)
					c.CloseNow()
					continue
				}
				if err == nil {
					c.CloseNow()
					t.Fatalf("%s: origin %q accepted", path, tc.origin)
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("%s: origin %q: %v, want 403", path, tc.origin, err)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("content type %q, want JSON", ct)
				}
			}
		})
	}
	wsWait(t, "stream slots released", func() bool { return ts.streams.Count() == 0 })
}

func TestWSMaxConnections(t *testing.T) {
	ts := newTestServer(t, func(c *config) { c.MaxStreams = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var conns []*websocket.Conn
	for range 2 {
		c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
		must(t, err)
		conns = append(conns, c)
	}
	_, resp, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %v, want 503", err)
	}
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	wsWait(t, "slots released", func() bool { return ts.streams.Count() == 0 })
}

func TestWSHeartbeatDropsDeadPeer(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.ws.cfg.PingInterval = 50 * time.Millisecond
	ts.ws.cfg.PingTimeout = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A coder/websocket client answers pings only while it reads: this
	// one never reads, so it looks dead.
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	must(t, err)
	defer c.CloseNow()
	wsWait(t, "the dead peer dropped", func() bool { return ts.streams.Count() == 0 })

	// A live one (reading) stays.
	live, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo"), ts.URL)
	must(t, err)
	rctx := live.CloseRead(ctx)
	time.Sleep(400 * time.Millisecond) // several ping rounds
	if rctx.Err() != nil || ts.streams.Count() != 1 {
		t.Fatalf("a live peer was dropped (count %d)", ts.streams.Count())
	}
	live.Close(websocket.StatusNormalClosure, "")
}

func TestWSRealtime(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		_, err := ts.hub.Publish("rt", "", json.RawMessage(`{"n":`+string(rune('0'+i))+`}`))
		must(t, err)
	}
	head, _ := ts.hub.Head("rt")
	from := head
	from.Offset = 1
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/realtime?topic=rt&heartbeat=100&cursor="+from.String()), ts.URL)
	must(t, err)
	defer c.CloseNow()
	var types []string
	var offsets []uint64
	for len(types) < 4 {
		_, b, err := c.Read(ctx)
		must(t, err)
		var m struct {
			Type   string
			Offset uint64
		}
		must(t, json.Unmarshal(b, &m))
		types = append(types, m.Type)
		offsets = append(offsets, m.Offset)
	}
	equal(t, "envelopes", strings.Join(types, ","), "_open,message,message,_ping")
	equal(t, "offsets", offsets[1]*10+offsets[2], 23)

	// A cursor of another epoch: "_gap", then close 1000.
	g, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/realtime?topic=rt&cursor=abc-5"), ts.URL)
	must(t, err)
	_, b, err := g.Read(ctx)
	must(t, err)
	if !strings.Contains(string(b), `"type":"_gap"`) || !strings.Contains(string(b), `"reason":"epoch"`) {
		t.Fatalf("gap envelope = %s", b)
	}
	_, _, err = g.Read(ctx)
	equal(t, "close after gap", websocket.CloseStatus(err), websocket.StatusNormalClosure)

	// Bad query: 400 JSON before the upgrade.
	resp, _ := get(t, ts.URL+"/ws/realtime?topic=bad%20topic")
	equal(t, "bad topic status", resp.StatusCode, http.StatusBadRequest)
}

func TestWSTestHooks(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server closes 4001 "kicked" after "bye".
	c, _, err := dialWS(t, ctx, wsURL(ts.URL, "/test/ws/close?code=4001&reason=kicked"), ts.URL)
	must(t, err)
	_, b, err := c.Read(ctx)
	must(t, err)
	equal(t, "first message", string(b), "bye")
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "kicked" {
		t.Fatalf("close = %v, want 4001 kicked", err)
	}
	// A client close is recorded by id.
	e, _, err := dialWS(t, ctx, wsURL(ts.URL, "/ws/echo?id=t1"), ts.URL)
	must(t, err)
	e.Close(4002, "bye now")
	resp, body := get(t, ts.URL+"/test/ws/closed?id=t1")
	equal(t, "status", resp.StatusCode, http.StatusOK)
	equal(t, "recorded", strings.TrimSpace(string(body)), `{"code":4002,"reason":"bye now"}`)
}

// wsWait polls cond for up to 5s.
func wsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
