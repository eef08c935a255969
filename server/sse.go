//go:build !js

package main

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/hub"
)

// sseEvent is one Server-Sent Events block. Empty fields are left out,
// except Data, which is always sent (an event without data is not
// dispatched by browsers).
type sseEvent struct {
	ID    string
	Event string
	Data  string
	Retry time.Duration // 0: no retry field
}

var errSSEField = errors.New("sse: id and event must not contain CR, LF or NUL")

// appendSSE appends ev framed by the WHATWG rules: data with CR, LF or
// CRLF becomes one "data:" line per line; id and event with CR, LF or NUL
// are refused; invalid UTF-8 becomes U+FFFD so the output is UTF-8.
// https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
func appendSSE(b []byte, ev sseEvent) ([]byte, error) {
	if strings.ContainsAny(ev.ID, "\r\n\x00") || strings.ContainsAny(ev.Event, "\r\n\x00") {
		return b, errSSEField
	}
	if ev.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, ev.Retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	if ev.ID != "" {
		b = append(b, "id: "...)
		b = append(b, strings.ToValidUTF8(ev.ID, "\uFFFD")...)
		b = append(b, '\n')
	}
	if ev.Event != "" {
		b = append(b, "event: "...)
		b = append(b, strings.ToValidUTF8(ev.Event, "\uFFFD")...)
		b = append(b, '\n')
	}
	data := strings.ToValidUTF8(ev.Data, "\uFFFD")
	for {
		i := strings.IndexAny(data, "\r\n")
		line := data
		if i >= 0 {
			line = data[:i]
		}
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
		if i < 0 {
			break
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(b, '\n'), nil
}

// sseFrame frames one envelope: id is its cursor (none for "_gap", so a
// reconnect asks for the same position and sees the gap again), event its
// type (unless named is false: then every event is a "message", and the
// type is only in the envelope), data the envelope JSON (one line).
func sseFrame(m hub.Message, named bool) []byte {
	ev := sseEvent{Data: string(mustJSON(m))}
	if named {
		ev.Event = m.Type
	}
	if m.Type != hub.TypeGap {
		ev.ID = m.Cursor().String()
	}
	b, err := appendSSE(nil, ev)
	if err != nil { // hub.ValidType refuses CR, LF, NUL: cannot happen
		panic(err)
	}
	return b
}

func (s *server) handleSSE(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) {
		return
	}
	p, ok := parseFeed(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	retry, ok := msParam(w, q, "retry", 2*time.Second, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	release, ok := s.streams.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	setSSEHeaders(w)
	named := q.Get("named") != "0"
	st := streamer{
		frame: func(m hub.Message) []byte { return sseFrame(m, named) },
		ping:  func(hub.Cursor) []byte { return []byte(": ping\n\n") },
	}
	hb := 15 * time.Second
	if p.heartbeat > 0 { // asked for: heartbeats the page can see
		hb = p.heartbeat
		st.ping = func(head hub.Cursor) []byte {
			ev := sseEvent{Data: string(mustJSON(hub.Control(p.topic, hub.TypePing, head)))}
			if named {
				ev.Event = hub.TypePing
			}
			b, _ := appendSSE(nil, ev)
			return b
		}
	}
	st.holdOnGap = true
	st.preamble = []byte("retry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\n\n")
	s.pump(w, r, p, st, hb)
}

// setSSEHeaders sets the headers of an event stream.
func setSSEHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// handleCountdown is the SSE demo of seed 001: {"id":"kgh","cnt":N} from
// 10 down to 0, one per interval (default 1s; interval=MS; retry=MS sends
// a retry field), then the
// stream ends. Each event's id is N; a reconnect with Last-Event-ID N
// continues at N-1, and one after 0 gets 204, which stops the browser's
// reconnection.
func (s *server) handleCountdown(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) {
		return
	}
	interval, ok := msParam(w, r.URL.Query(), "interval", time.Second, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	retry, ok := msParam(w, r.URL.Query(), "retry", 0, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	from := 10
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			writeError(w, http.StatusBadRequest, "Last-Event-ID: want 0-10")
			return
		}
		if n == 0 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		from = n - 1
	}
	release, ok := s.streams.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	setSSEHeaders(w)
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := from; n >= 0; n-- {
		b, _ := appendSSE(nil, sseEvent{ID: strconv.Itoa(n), Data: `{"id":"kgh","cnt":` + strconv.Itoa(n) + `}`, Retry: retry})
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
	retry, ok := msParam(w, q, "retry", 0, 0, time.Minute)
	if !ok {
		return
	}
	ev := sseEvent{ID: q.Get("id"), Event: q.Get("event"), Data: q.Get("data"), Retry: retry}
	if last != "" {
		ev.ID, ev.Data = last+"r", "resumed:"+last
	}
	b, err := appendSSE(nil, ev)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
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
