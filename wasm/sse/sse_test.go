//go:build js && wasm

package sse_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/sse"
	"github.com/cometwasm/comet/wasm/xhr"
)

func script(t *testing.T, q url.Values) string {
	return testenv.ServerURL(t) + "/test/realtime/sse-script?" + q.Encode()
}

func open(t *testing.T, u string, opts *sse.Options) *sse.EventSource {
	t.Helper()
	s, err := sse.Open(context.Background(), u, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func next(t *testing.T, s *sse.EventSource) sse.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The tests below follow wpt's eventsource suite
// (https://github.com/web-platform-tests/wpt/tree/master/eventsource).

func TestEvents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		q      url.Values
		events []string
		want   sse.Event
	}{
		{"default type", url.Values{"data": {"x"}, "hold": {"1"}}, nil, sse.Event{Type: "message", Data: "x"}},
		{"named", url.Values{"event": {"chat"}, "data": {"hi"}, "id": {"1"}, "hold": {"1"}}, []string{"chat"}, sse.Event{ID: "1", Type: "chat", Data: "hi"}},
		{"multi-line data", url.Values{"data": {"a\nb\r\nc\rd\n"}, "hold": {"1"}}, nil, sse.Event{Type: "message", Data: "a\nb\nc\nd\n"}},
		{"empty data", url.Values{"data": {""}, "hold": {"1"}}, nil, sse.Event{Type: "message", Data: ""}},
		{"unicode", url.Values{"data": {"é😀\u2028"}, "hold": {"1"}}, nil, sse.Event{Type: "message", Data: "é😀\u2028"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, script(t, tc.q), &sse.Options{Events: tc.events})
			if got := next(t, s); got != tc.want {
				t.Fatalf("event %+v, want %+v", got, tc.want)
			}
			if s.ReadyState() != sse.StateOpen {
				t.Fatalf("ReadyState %v", s.ReadyState())
			}
			if s.LastEventID() != tc.want.ID {
				t.Fatalf("LastEventID %q", s.LastEventID())
			}
		})
	}
}

// TestResumeRetryAnd204: the stream ends after one event; the browser
// reconnects after the retry: time with Last-Event-ID; then a 204 stops
// the reconnection for good, which Next reports as a terminal *Error.
func TestResumeRetryAnd204(t *testing.T) {
	var mu sync.Mutex
	var states []sse.ReadyState
	q := url.Values{"id": {"7"}, "data": {"x"}, "retry": {"20"}, "end": {"7r"}}
	s := open(t, script(t, q), &sse.Options{OnState: func(st sse.ReadyState) {
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	}})
	if e := next(t, s); e.Data != "x" || e.ID != "7" {
		t.Fatalf("first event %+v", e)
	}
	if e := next(t, s); e.Data != "resumed:7" || e.ID != "7r" {
		t.Fatalf("after reconnecting: %+v", e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Next(ctx)
	var e *sse.Error
	if !errors.As(err, &e) || !errors.Is(err, sse.ErrFailed) || e.Status != 204 {
		t.Fatalf("after 204: %v", err)
	}
	if s.ReadyState() != sse.StateClosed || s.LastEventID() != "7r" {
		t.Fatalf("state %v, last id %q", s.ReadyState(), s.LastEventID())
	}
	// OnState runs on its own goroutine: wait for it to catch up.
	for range 200 {
		mu.Lock()
		n := len(states)
		mu.Unlock()
		if n > 0 && states[n-1] == sse.StateClosed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []sse.ReadyState{sse.StateConnecting, sse.StateOpen, sse.StateConnecting, sse.StateOpen, sse.StateConnecting, sse.StateClosed}
	if len(states) != len(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("states %v, want %v", states, want)
		}
	}
}

// TestStatesFirstToClose: OnState sees the first CONNECTING (before the
// browser fires any event) and the CLOSED of Close.
func TestStatesFirstToClose(t *testing.T) {
	got := make(chan sse.ReadyState, 10)
	s := open(t, script(t, url.Values{"data": {"x"}, "hold": {"1"}}), &sse.Options{OnState: func(st sse.ReadyState) { got <- st }})
	next(t, s)
	s.Close()
	for _, want := range []sse.ReadyState{sse.StateConnecting, sse.StateOpen, sse.StateClosed} {
		select {
		case st := <-got:
			if st != want {
				t.Fatalf("state %v, want %v", st, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v reported", want)
		}
	}
	select {
	case st := <-got:
		t.Fatalf("state %v after CLOSED", st)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestBrowserGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		q      url.Values
		status int
		ctype  string
	}{
		{"wrong content type", url.Values{"ctype": {"text/plain"}, "data": {"x"}}, 200, "text/plain"},
		{"status 500", url.Values{"status": {"500"}, "data": {"x"}}, 500, "text/event-stream"},
		{"204", url.Values{"status": {"204"}}, 204, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, script(t, tc.q), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := s.Next(ctx)
			var e *sse.Error
			if !errors.As(err, &e) {
				t.Fatalf("Next = %v, want *sse.Error", err)
			}
			if e.Status != tc.status || (tc.ctype != "" && e.ContentType != tc.ctype) || e.Reason == "" {
				t.Fatalf("error %+v", e)
			}
			if s.ReadyState() != sse.StateClosed {
				t.Fatalf("ReadyState %v, want CLOSED", s.ReadyState())
			}
			if _, err2 := s.Next(ctx); err2 != err {
				t.Fatalf("error not sticky: %v", err2)
			}
		})
	}
}

func TestOverflow(t *testing.T) {
	s := open(t, testenv.ServerURL(t)+"/realtime/countdown?interval=10", &sse.Options{QueueSize: 3})
	for s.ReadyState() != sse.StateClosed {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		if e := next(t, s); e.ID != []string{"10", "9", "8"}[i] {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if _, err := s.Next(context.Background()); !errors.Is(err, sse.ErrOverflow) {
		t.Fatalf("after the queue: %v, want ErrOverflow", err)
	}
}

func TestCountdownIterator(t *testing.T) {
	s := open(t, testenv.ServerURL(t)+"/realtime/countdown?interval=10&retry=20", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	var last error
	for e, err := range s.All(ctx) {
		if err != nil {
			last = err
			break
		}
		if want := `{"id":"kgh","cnt":` + strconv.Itoa(10-n) + `}`; e.Data != want || e.ID != strconv.Itoa(10-n) {
			t.Fatalf("event %d: %q, want %q", n, e.Data, want)
		}
		n++
	}
	var se *sse.Error
	if n != 11 || !errors.As(last, &se) || se.Status != 204 {
		t.Fatalf("%d events, then %v; want 11 and a 204", n, last)
	}
}

func TestCloseAndContext(t *testing.T) {
	s := open(t, script(t, url.Values{"data": {"x"}, "hold": {"1"}}), nil)
	next(t, s)
	s.Close()
	s.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, sse.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if s.ReadyState() != sse.StateClosed {
		t.Fatal("not CLOSED")
	}
	ctx, cancel := context.WithCancel(context.Background())
	s2, err := sse.Open(ctx, script(t, url.Values{"data": {"x"}, "hold": {"1"}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range 100 {
		if s2.ReadyState() == sse.StateClosed {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the end of ctx did not close the source")
}

// TestLeaks opens and closes 1,000 sources: every listener and reference
// is released.
func TestLeaks(t *testing.T) {
	u := script(t, url.Values{"data": {"x"}, "hold": {"1"}})
	base := testenv.MeasureRefs()
	for i := range 1000 {
		s, err := sse.Open(context.Background(), u, &sse.Options{Events: []string{"a", "b"}, OnState: func(sse.ReadyState) {}})
		if err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			next(t, s)
		}
		s.Close()
	}
	testenv.CheckRefs(t, base, 10)
}

// TestCrossOriginWithCredentials: the second origin is trusted by the
// server's CORS policy, which allows credentials.
func TestCrossOriginWithCredentials(t *testing.T) {
	s := open(t, testenv.SecondURL(t)+"/realtime/countdown?interval=10&retry=20", &sse.Options{WithCredentials: true})
	if e := next(t, s); e.ID != "10" {
		t.Fatalf("first event %+v", e)
	}
}

// TestHelperScriptAndFallback runs a stream through the page's helper
// script (comet_batch.js, which the harness loads) and, with the script
// removed, through the native fallback: order, no loss, exact text
// (Korean, emoji, U+2028) and no leak, both ways.
func TestHelperScriptAndFallback(t *testing.T) {
	if js.Global().Get("cometBatch").Type() != js.TypeObject {
		t.Fatal("globalThis.cometBatch is missing: the harness must load public/comet_batch.js")
	}
	for _, helper := range []bool{false, true} {
		t.Run("helper="+strconv.FormatBool(helper), func(t *testing.T) {
			if !helper {
				defer testenv.RemoveHelper()()
			}
			base := testenv.MeasureRefs()
			text := "안녕하세요 😀👍🏽 \u2028 \"q\" \\ end"
			// Not open(): its t.Cleanup would keep the sources alive past CheckRefs.
			s, err := sse.Open(context.Background(), script(t, url.Values{"event": {"chat"}, "data": {text}, "id": {"아이디🎉"}, "hold": {"1"}}), &sse.Options{Events: []string{"chat"}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := next(t, s), (sse.Event{Type: "chat", ID: "아이디🎉", Data: text}); got != want {
				s.Close()
				t.Fatalf("event %+v, want %+v", got, want)
			}
			s.Close()
			c, err := sse.Open(context.Background(), testenv.ServerURL(t)+"/realtime/countdown?interval=10&retry=20", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := 0
			var last error
			for e, err := range c.All(ctx) {
				if err != nil {
					last = err
					break
				}
				if want := `{"id":"kgh","cnt":` + strconv.Itoa(10-n) + `}`; e.Data != want || e.ID != strconv.Itoa(10-n) {
					t.Fatalf("event %d: %q, want %q", n, e.Data, want)
				}
				n++
			}
			if n != 11 {
				t.Fatalf("%d events, then %v; want 11", n, last)
			}
			c.Close()
			testenv.CheckRefs(t, base, 10)
		})
	}
}

// publish POSTs a batch of messages with data first..first+n-1 to topic
// on the test server's realtime handler and returns the cursor before
// them.
func publish(t *testing.T, topic string, first, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: testenv.ServerURL(t) + "/realtime/publish", Body: testenv.PublishBody(topic, first, n),
		Header: xhr.Header{"Content-Type": {"application/json"}}, ResponseType: xhr.ResponseText})
	if err != nil || resp.Status != 200 {
		t.Fatalf("publish: %v %v", resp, err)
	}
	var reply wire.PublishReply
	if err := json.Unmarshal(resp.Bytes(), &reply); err != nil {
		t.Fatal(err)
	}
	return wire.Cursor{Epoch: reply.Cursor.Epoch, Offset: reply.Cursor.Offset - uint64(reply.Count)}.String()
}

// TestFlushEvent: comet's /realtime/sse with flush=1 ends a replay with a
// "_flush" event; with Options.FlushEvent naming it (even when Events
// lists it too) Next returns every message of the replay and of later
// publishes, in order, and never the flush event, with and without the
// helper script.
func TestFlushEvent(t *testing.T) {
	for _, helper := range []bool{true, false} {
		t.Run("helper="+strconv.FormatBool(helper), func(t *testing.T) {
			if !helper {
				defer testenv.RemoveHelper()()
			}
			topic := "sse-flush-" + strconv.FormatBool(helper) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			from := publish(t, topic, 0, 50)
			s := open(t, testenv.ServerURL(t)+"/realtime/sse?named=0&flush=1&topic="+topic+"&cursor="+from,
				&sse.Options{FlushEvent: wire.SSEFlush, Events: []string{wire.SSEFlush}})
			want := 0
			expect := func(n int) {
				t.Helper()
				for got := 0; got < n; {
					e := next(t, s)
					if e.Type != "message" {
						t.Fatalf("event %+v, want only messages", e)
					}
					var m wire.Message
					if err := json.Unmarshal([]byte(e.Data), &m); err != nil {
						t.Fatalf("event data %q: %v", e.Data, err)
					}
					if m.Type == wire.TypeOpen {
						continue
					}
					if string(m.Data) != strconv.Itoa(want) {
						t.Fatalf("message %s, want %d", m.Data, want)
					}
					want++
					got++
				}
			}
			expect(50)
			publish(t, topic, 50, 1)
			expect(1)
			publish(t, topic, 51, 30)
			expect(30)
		})
	}
}
