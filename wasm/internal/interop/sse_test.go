//go:build js && wasm

package interop_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/sse"
)

// states collects what OnState reports.
type states struct {
	mu   sync.Mutex
	list []sse.ReadyState
}

func (s *states) add(st sse.ReadyState) {
	s.mu.Lock()
	s.list = append(s.list, st)
	s.mu.Unlock()
}

// waitClosed waits (boundedly) until CLOSED was reported, then returns
// the list.
func (s *states) waitClosed() []sse.ReadyState {
	for range 300 {
		s.mu.Lock()
		n := len(s.list)
		done := n > 0 && s.list[n-1] == sse.StateClosed
		s.mu.Unlock()
		if done {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sse.ReadyState(nil), s.list...)
}

func sameStates(a, b []sse.ReadyState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSSEResumeAcrossReconnects: go-sse sends two events per connection;
// the browser reconnects with Last-Event-ID and the stream goes on, named
// and multi-line events included, until a 204 ends it. Every state change
// is reported, the first CONNECTING included.
func TestSSEResumeAcrossReconnects(t *testing.T) {
	t.Parallel()
	const n = 5
	var st states
	s, err := sse.Open(testCtx(t, 30*time.Second), testenv.Interop(t, "SSE")+"/count?n="+strconv.Itoa(n),
		&sse.Options{Events: []string{"tick"}, OnState: st.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := testCtx(t, 20*time.Second)
	for i := 1; i <= n; i++ {
		e, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		typ := "message"
		if i%2 == 0 {
			typ = "tick"
		}
		want := sse.Event{ID: strconv.Itoa(i), Type: typ, Data: "event " + strconv.Itoa(i) + "\nline 2"}
		if e != want {
			t.Fatalf("event %d: %+v, want %+v", i, e, want)
		}
	}
	// The browser's reconnect with Last-Event-ID "5" got 204. The
	// diagnostic request may not send that header cross-origin (it would
	// be preflighted, which this server does not answer), so it gets a
	// fresh stream, and the error says the reason is unknown and why.
	_, err = s.Next(ctx)
	var se *sse.Error
	if !errors.As(err, &se) || (testenv.InBrowser() && (se.Status != 200 || !strings.Contains(se.Reason, `unknown`) ||
		!strings.Contains(se.Reason, `Last-Event-ID "5"`))) || (!testenv.InBrowser() && se.Status != 204) {
		t.Fatalf("after the last event: %v (%+v), want *sse.Error: in Chromium a reason unknown for want of Last-Event-ID; in node (no CORS) the 204", err, se)
	}
	// 3 connections (2+2+1 events), then the 204.
	O, C, X := sse.StateOpen, sse.StateConnecting, sse.StateClosed
	want := []sse.ReadyState{C, O, C, O, C, O, C, X}
	if got := st.waitClosed(); !sameStates(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}

// TestSSEProbeSendsNoPreflight: a plain cross-origin server (ACAO "*",
// no preflight answers) ends the stream, then answers the reconnect with
// text/plain. The package's diagnostic request must reach it as
// EventSource did (a simple request), so the error names the real reason.
func TestSSEProbeSendsNoPreflight(t *testing.T) {
	t.Parallel()
	s, err := sse.Open(testCtx(t, 30*time.Second), testenv.Interop(t, "SSE")+"/once?key="+unique(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := testCtx(t, 20*time.Second)
	if e, err := s.Next(ctx); err != nil || e.Data != "first" || e.ID != "1" {
		t.Fatalf("first event %+v, %v", e, err)
	}
	_, err = s.Next(ctx)
	var se *sse.Error
	if !errors.As(err, &se) || se.Status != 200 || !strings.HasPrefix(se.ContentType, "text/plain") ||
		!strings.Contains(se.Reason, "text/plain") {
		t.Fatalf("after the text/plain reconnect: %v (%+v), want the Content-Type as the reason", err, se)
	}
}

// TestSSERefusedPortGivesUp: nothing listens; the browser would retry
// forever. MaxAttempts bounds it: Next returns an *Error saying the reason
// is unknown (the probe cannot reach the server either), and the states
// are CONNECTING then CLOSED.
func TestSSERefusedPortGivesUp(t *testing.T) {
	t.Parallel()
	var st states
	s, err := sse.Open(context.Background(), testenv.Interop(t, "REFUSED")+"/events", &sse.Options{MaxAttempts: 2, OnState: st.add})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = s.Next(testCtx(t, 30*time.Second))
	var se *sse.Error
	if !errors.As(err, &se) || !errors.Is(err, sse.ErrFailed) || se.Status != 0 || se.Attempts != 2 ||
		!strings.Contains(se.Reason, "unknown") {
		t.Fatalf("Next against a refused port: %v (%+v), want *sse.Error after 2 attempts, reason unknown", err, se)
	}
	t.Logf("gave up after %d attempts in %v: %v", se.Attempts, time.Since(start).Round(time.Millisecond), err)
	if s.ReadyState() != sse.StateClosed {
		t.Fatalf("ReadyState %v", s.ReadyState())
	}
	if got, want := st.waitClosed(), []sse.ReadyState{sse.StateConnecting, sse.StateClosed}; !sameStates(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
}
