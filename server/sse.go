//go:build !js

package main

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// handleCountdown is the SSE demo of seed 001: {"id":"kgh","cnt":N} from
// 10 down to 0, one per interval (default 1s; interval=MS; retry=MS sends
// a retry field), then the
// stream ends. Each event's id is N; a reconnect with Last-Event-ID N
// continues at N-1, and one after 0 gets 204, which stops the browser's
// reconnection.
func (s *server) handleCountdown(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, streamCORS) {
		return
	}
	interval, ok := httpx.MillisParam(w, r.URL.Query(), "interval", time.Second, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	retry, ok := httpx.MillisParam(w, r.URL.Query(), "retry", 0, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	from := 10
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			httpx.WriteError(w, http.StatusBadRequest, "Last-Event-ID: want 0-10")
			return
		}
		if n == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		from = n - 1
	}
	release, ok := s.streams.Acquire(w, r)
	if !ok {
		return
	}
	defer release()
	httpx.SetSSEHeaders(w)
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := from; n >= 0; n-- {
		b, _ := httpx.AppendSSE(nil, httpx.SSEEvent{ID: strconv.Itoa(n), Data: `{"id":"kgh","cnt":` + strconv.Itoa(n) + `}`, Retry: retry})
		retry = 0 // once is enough
		if _, err := w.Write(b); err != nil || rc.Flush() != nil {
			return
		}
		if n == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// handleSSEScript (tests only) answers one scripted event for the
// EventSource conformance tests. Query: status (default 200), ctype
// (default text/event-stream), retry (ms), id, event, data, hold=1 (keep
// the stream open; otherwise it ends and the browser reconnects), end (a
// Last-Event-ID that gets 204). A reconnect (Last-Event-ID L) gets the
// event with id L+"r" and data "resumed:L".
func (s *server) handleSSEScript(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	last := r.Header.Get("Last-Event-ID")
	if last != "" && last == q.Get("end") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status, err := strconv.Atoi(q.Get("status"))
	if err != nil {
		status = http.StatusOK
	}
	ctype := q.Get("ctype")
	if ctype == "" {
		ctype = "text/event-stream"
	}
	retry, ok := httpx.MillisParam(w, q, "retry", 0, 0, time.Minute)
	if !ok {
		return
	}
	ev := httpx.SSEEvent{ID: q.Get("id"), Event: q.Get("event"), Data: q.Get("data"), Retry: retry}
	if last != "" {
		ev.ID, ev.Data = last+"r", "resumed:"+last
	}
	b, err := httpx.AppendSSE(nil, ev)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	w.Write(b)
	http.NewResponseController(w).Flush()
	if q.Get("hold") == "1" {
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	}
}
