//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/wire"
)

// parsedEvent is one event as a browser dispatches it.
type parsedEvent struct {
	ID, Type, Data string
	Retry          string
}

// sseParser is a tiny WHATWG event-stream parser for tests.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
type sseParser struct {
	r         *bufio.Reader
	lastID    string
	retry     string
	comments  int
	pendingCR bool
}

func newSSEParser(r io.Reader) *sseParser { return &sseParser{r: bufio.NewReader(r)} }

// line reads one line ending in CRLF, LF or CR.
func (p *sseParser) line() (string, error) {
	var b strings.Builder
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return "", err
		}
		if p.pendingCR {
			p.pendingCR = false
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\n':
			return b.String(), nil
		case '\r':
			p.pendingCR = true
			return b.String(), nil
		}
		b.WriteByte(c)
	}
}

// next returns the next dispatched event.
func (p *sseParser) next() (parsedEvent, error) {
	var data strings.Builder
	typ := ""
	for {
		l, err := p.line()
		if err != nil {
			return parsedEvent{}, err // an unfinished event is dropped
		}
		if l == "" {
			d := data.String()
			if d == "" {
				typ = ""
				continue
			}
			d = strings.TrimSuffix(d, "\n")
			if typ == "" {
				typ = "message"
			}
			return parsedEvent{ID: p.lastID, Type: typ, Data: d, Retry: p.retry}, nil
		}
		if l[0] == ':' {
			p.comments++
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "event":
			typ = value
		case "data":
			data.WriteString(value)
			data.WriteByte('\n')
		case "id":
			if !strings.Contains(value, "\x00") {
				p.lastID = value
			}
		case "retry":
			p.retry = value
		}
	}
}

func TestAppendSSE(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ev   httpx.SSEEvent
		want string
		err  bool
	}{
		{"plain", httpx.SSEEvent{Data: "hi"}, "data: hi\n\n", false},
		{"all fields", httpx.SSEEvent{ID: "e-1", Event: "chat", Data: "x", Retry: 1500 * time.Millisecond}, "retry: 1500\nid: e-1\nevent: chat\ndata: x\n\n", false},
		{"LF lines", httpx.SSEEvent{Data: "a\nb\n"}, "data: a\ndata: b\ndata: \n\n", false},
		{"CRLF and CR", httpx.SSEEvent{Data: "a\r\nb\rc"}, "data: a\ndata: b\ndata: c\n\n", false},
		{"empty data", httpx.SSEEvent{Data: ""}, "data: \n\n", false},
		{"leading space kept", httpx.SSEEvent{Data: " x"}, "data:  x\n\n", false},
		{"colon in data", httpx.SSEEvent{Data: ": not a comment"}, "data: : not a comment\n\n", false},
		{"invalid UTF-8", httpx.SSEEvent{Data: "a\xffb"}, "data: a\uFFFDb\n\n", false},
		{"id with LF", httpx.SSEEvent{ID: "a\nb", Data: "x"}, "", true},
		{"id with NUL", httpx.SSEEvent{ID: "a\x00", Data: "x"}, "", true},
		{"event with CR", httpx.SSEEvent{Event: "a\rb", Data: "x"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpx.AppendSSE(nil, tc.ev)
			if (err != nil) != tc.err || string(got) != tc.want {
				t.Fatalf("appendSSE = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzSSERoundTrip proves that any published string arrives byte-identical
// after the realtime SSE framing (an envelope as data) and a WHATWG parse, and that raw data
// survives apart from the line-break normalisation the format defines.
func FuzzSSERoundTrip(f *testing.F) {
	for _, s := range []string{"", "x", "a\nb", "a\r\nb", "\r", "\n\n", " lead", "data: x", "\x00", "é😀", "\u2028", "a\r\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD") // what a JSON publisher can send
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		m := wire.Message{Topic: "t", Offset: 7, Epoch: "e", Type: "chat", Data: data}
		frame, err := httpx.AppendSSE(nil, httpx.SSEEvent{ID: m.Cursor().String(), Event: m.Type, Data: string(httpx.MustJSON(m))})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := newSSEParser(strings.NewReader(string(frame))).next()
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		var got wire.Message
		if err := json.Unmarshal([]byte(ev.Data), &got); err != nil {
			t.Fatalf("envelope %q: %v", ev.Data, err)
		}
		var back string
		if err := json.Unmarshal(got.Data, &back); err != nil {
			t.Fatal(err)
		}
		if back != s || ev.ID != "e-7" || ev.Type != "chat" {
			t.Fatalf("published %q, got %q (id %q, type %q)", s, back, ev.ID, ev.Type)
		}
		// Raw data: equal after CRLF and CR become LF.
		raw, _ := httpx.AppendSSE(nil, httpx.SSEEvent{Data: s})
		ev, err = newSSEParser(strings.NewReader(string(raw))).next()
		want := strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
		if err != nil || ev.Data != want {
			t.Fatalf("raw %q: got %q, %v", s, ev.Data, err)
		}
	})
}

// openSSE starts an SSE request; the caller reads events with the parser.
func openSSE(t *testing.T, ctx context.Context, url string, headers ...string) (*http.Response, *sseParser) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	must(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp, newSSEParser(resp.Body)
}

func nextEvent(t *testing.T, p *sseParser) parsedEvent {
	t.Helper()
	ev, err := p.next()
	must(t, err)
	return ev
}

func TestSSEEndpoint(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ms, err := ts.hub.PublishBatch("sse", []wire.Draft{
		{Type: "chat", Data: json.RawMessage(`"line1\nline2"`)},
		{Data: json.RawMessage(`{"n":2}`)},
		{Type: "chat", Data: json.RawMessage(`3`)},
	})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("headers, retry, open, events from cursor", func(t *testing.T) {
		resp, p := openSSE(t, ctx, ts.URL+"/realtime/sse?topic=sse&retry=250&cursor="+ms[0].Cursor().String())
		equal(t, "status", resp.StatusCode, 200)
		equal(t, "Content-Type", resp.Header.Get("Content-Type"), "text/event-stream; charset=utf-8")
		equal(t, "Cache-Control", resp.Header.Get("Cache-Control"), "no-cache")
		equal(t, "X-Accel-Buffering", resp.Header.Get("X-Accel-Buffering"), "no")
		open := nextEvent(t, p)
		equal(t, "open type", open.Type, wire.TypeOpen)
		equal(t, "open id", open.ID, ms[0].Cursor().String())
		equal(t, "retry", open.Retry, "250")
		for _, want := range ms[1:] {
			ev := nextEvent(t, p)
			equal(t, "id", ev.ID, want.Cursor().String())
			equal(t, "type", ev.Type, want.Type)
			var got wire.Message
			must(t, json.Unmarshal([]byte(ev.Data), &got))
			equal(t, "data", string(got.Data), string(want.Data))
			equal(t, "offset", got.Offset, want.Offset)
		}
	})
	t.Run("Last-Event-ID header wins over query", func(t *testing.T) {
		_, p := openSSE(t, ctx, ts.URL+"/realtime/sse?topic=sse&lastEventId="+ms[0].Cursor().String(), "Last-Event-ID", ms[1].Cursor().String())
		equal(t, "open", nextEvent(t, p).ID, ms[1].Cursor().String())
		equal(t, "first", nextEvent(t, p).ID, ms[2].Cursor().String())
	})
	t.Run("lastEventId query", func(t *testing.T) {
		_, p := openSSE(t, ctx, ts.URL+"/realtime/sse?topic=sse&cursor=zz-1&lastEventId="+ms[1].Cursor().String())
		equal(t, "open", nextEvent(t, p).ID, ms[1].Cursor().String())
	})
	t.Run("heartbeat event", func(t *testing.T) {
		_, p := openSSE(t, ctx, ts.URL+"/realtime/sse?topic=sse&heartbeat=50")
		nextEvent(t, p)
		equal(t, "ping", nextEvent(t, p).Type, wire.TypePing)
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, q := range []string{"topic=a%20b", "topic=sse&cursor=x", "topic=sse&retry=5", "topic=sse&heartbeat=x"} {
			resp, _ := get(t, ts.URL+"/realtime/sse?"+q)
			equal(t, q, resp.StatusCode, 400)
		}
	})
}

func TestSSEGap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	m, err := ts.hub.Publish("gap", "", nil)
	must(t, err)
	must(t, ts.hub.Reset("gap"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, p := openSSE(t, ctx, ts.URL+"/realtime/sse?topic=gap&heartbeat=50&cursor="+m.Cursor().String())
	ev := nextEvent(t, p)
	equal(t, "type", ev.Type, wire.TypeGap)
	equal(t, "id (none, so a reconnect sees the gap again)", ev.ID, "")
	var env wire.Message
	must(t, json.Unmarshal([]byte(ev.Data), &env))
	var g wire.Gap
	must(t, json.Unmarshal(env.Data, &g))
	equal(t, "reason", g.Reason, "epoch")
	equal(t, "want", g.Want, m.Cursor())
	equal(t, "then only pings", nextEvent(t, p).Type, wire.TypePing)
}

func TestCountdown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	for _, tc := range []struct {
		name, lastID string
		first        int
	}{
		{"from 10", "", 10},
		{"resume", "3", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := openSSE(t, context.Background(), ts.URL+"/realtime/countdown?interval=10", "Last-Event-ID", tc.lastID)
			for n := tc.first; n >= 0; n-- {
				ev := nextEvent(t, p)
				var v struct {
					ID  string `json:"id"`
					Cnt int    `json:"cnt"`
				}
				must(t, json.Unmarshal([]byte(ev.Data), &v))
				equal(t, "cnt", v.Cnt, n)
				equal(t, "id", v.ID, "kgh")
			}
			if _, err := p.next(); err != io.EOF {
				t.Fatalf("after 0: %v, want the end of the stream", err)
			}
		})
	}
	resp, _ := get(t, ts.URL+"/realtime/countdown", "Last-Event-ID", "0")
	equal(t, "after the end", resp.StatusCode, http.StatusNoContent)
}

// TestClockTopic: the clock demo publishes {"time": RFC 3339} every second.
func TestClockTopic(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub, err := ts.rt.Broker().Subscribe(ctx, topicClock, wire.Cursor{})
	must(t, err)
	ms, err := sub.Next(ctx)
	must(t, err)
	var v struct{ Time string }
	must(t, json.Unmarshal(ms[0].Data, &v))
	if _, err := time.Parse(time.RFC3339, v.Time); err != nil || ms[0].Type != "tick" {
		t.Fatalf("clock message %+v", ms[0])
	}
}
