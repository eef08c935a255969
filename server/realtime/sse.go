//go:build !js

package realtime

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/wire"
)

// sseFrame frames one envelope: id is its cursor (none for "_gap", so a
// reconnect asks for the same position and sees the gap again), event its
// type (unless named is false: then every event is a "message", and the
// type is only in the envelope), data the envelope JSON (one line).
func sseFrame(m wire.Message, named bool) []byte {
	ev := httpx.SSEEvent{Data: string(httpx.MustJSON(m))}
	if named {
		ev.Event = m.Type
	}
	if m.Type != wire.TypeGap {
		ev.ID = m.Cursor().String()
	}
	b, err := httpx.AppendSSE(nil, ev)
	if err != nil { // wire.ValidType refuses CR, LF, NUL: cannot happen
		panic(err)
	}
	return b
}

// sseFlushEvent is the wire.SSEFlush event: empty data, no id (the
// browser's lastEventId stays the last message's).
var sseFlushEvent = []byte("event:" + wire.SSEFlush + "\ndata:\n\n")

// flushParam reads flush= of an SSE stream or session: 1 asks for an
// sseFlushEvent after a burst (several messages, or frames, written
// back to back). On failure it has answered 400.
func flushParam(w http.ResponseWriter, q url.Values) (flush, ok bool) {
	switch q.Get("flush") {
	case "", "0":
		return false, true
	case "1":
		return true, true
	}
	httpx.WriteError(w, http.StatusBadRequest, "flush: want 1 or 0")
	return false, false
}

func (h *Handler) handleSSE(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	if multi(r) {
		h.multiSSE(w, r)
		return
	}
	p, ok := parseFeed(w, r, true)
	if !ok {
		return
	}
	id, ok := h.admit(w, r, p.topic)
	if !ok {
		return
	}
	q := r.URL.Query()
	retry, ok := httpx.MillisParam(w, q, "retry", 2*time.Second, 10*time.Millisecond, time.Minute)
	if !ok {
		return
	}
	release, ok := h.cfg.Streams.Acquire(w, r)
	if !ok {
		return
	}
	httpx.SetSSEHeaders(w)
	named := q.Get("named") != "0"
	st := streamer{
		frame: func(m wire.Message) []byte {
			if named {
				return h.frames.frame(m, frameSSENamed, func(m wire.Message) []byte { return sseFrame(m, true) })
			}
			return h.frames.frame(m, frameSSEPlain, func(m wire.Message) []byte { return sseFrame(m, false) })
		},
		ping: func(wire.Cursor) []byte { return []byte(": ping\n\n") },
	}
	hb := 15 * time.Second
	if p.heartbeat > 0 { // asked for: heartbeats the page can see
		hb = p.heartbeat
		st.ping = func(head wire.Cursor) []byte {
			ev := httpx.SSEEvent{Data: string(httpx.MustJSON(wire.Control(p.topic, wire.TypePing, head)))}
			if named {
				ev.Event = wire.TypePing
			}
			b, _ := httpx.AppendSSE(nil, ev)
			return b
		}
	}
	st.holdOnGap = true
	if p.flush {
		st.flush = sseFlushEvent
	}
	st.preamble = []byte("retry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\n\n")
	h.pump(w, r, id, release, p, st, hb) // it releases the slot
}
