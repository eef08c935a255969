//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Read-only sessions for any HTTP client, Mercure-style: GET sse, stream,
// poll and longpoll with repeated topic= follow all of them on one
// request. cursor= is repeated in the same order (all or none; an empty
// one means "now"). The SSE id of every event is the composite cursor, the
// cursors of all the topics in topic= order joined by ",", so a plain
// EventSource's Last-Event-ID resumes every topic; it grows by about 20
// bytes per topic, so many topics want a session (session/sse) instead.

// multiParams are the parameters of a many-topic feed.
type multiParams struct {
	ident     Identity
	topics    []string
	cursors   []wire.Cursor
	heartbeat time.Duration
	max       int
}

// multi reports whether r follows more than one topic.
func multi(r *http.Request) bool { return len(r.URL.Query()["topic"]) > 1 }

// composite is the text of a composite cursor.
func composite(cs []wire.Cursor) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// parseMulti reads a many-topic feed's parameters. On failure it has
// answered 400 or 403.
func (h *Handler) parseMulti(w http.ResponseWriter, r *http.Request, sse bool) (multiParams, bool) {
	q := r.URL.Query()
	p := multiParams{topics: q["topic"]}
	if len(p.topics) > h.cfg.SessionTopics {
		httpx.WriteError(w, http.StatusBadRequest, "topic: at most "+strconv.Itoa(h.cfg.SessionTopics)+" topics")
		return p, false
	}
	seen := map[string]bool{}
	for _, t := range p.topics {
		switch code, msg := checkTopic(t); {
		case code == wire.CodeForbidden:
			httpx.WriteError(w, http.StatusForbidden, "topic: "+msg)
			return p, false
		case code != "":
			httpx.WriteError(w, http.StatusBadRequest, msg)
			return p, false
		case seen[t]:
			httpx.WriteError(w, http.StatusBadRequest, "topic: "+strconv.Quote(t)+" is given twice")
			return p, false
		}
		seen[t] = true
	}
	texts := q["cursor"]
	if sse {
		v := q.Get("lastEventId")
		if hv := r.Header.Get("Last-Event-ID"); hv != "" {
			v = hv
		}
		if v != "" {
			texts = strings.Split(v, ",")
		}
	}
	if len(texts) != 0 && len(texts) != len(p.topics) {
		httpx.WriteError(w, http.StatusBadRequest, "cursor: want one per topic, in topic= order, or none")
		return p, false
	}
	p.cursors = make([]wire.Cursor, len(p.topics))
	for i, text := range texts {
		c, err := wire.ParseCursor(text)
		if err != nil {
			httpx.WriteError(w, http.StatusBadRequest, "cursor: want EPOCH-OFFSET, got "+strconv.Quote(text))
			return p, false
		}
		p.cursors[i] = c
	}
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			httpx.WriteError(w, http.StatusBadRequest, "max: want 1 to 10000")
			return p, false
		}
		p.max = n
	}
	if q.Has("heartbeat") {
		d, ok := httpx.MillisParam(w, q, "heartbeat", 15*time.Second, 50*time.Millisecond, time.Minute)
		if !ok {
			return p, false
		}
		p.heartbeat = d
	}
	var ok bool
	p.ident, ok = h.admit(w, r, p.topics...)
	return p, ok
}

// multiStreamer frames the envelopes of a many-topic stream.
type multiStreamer struct {
	frame     func(m wire.Message, id string) []byte // id "": none
	ping      func(m wire.Message) []byte            // a "_ping" envelope of one topic
	preamble  []byte
	holdOnGap bool // SSE: stay open when every topic had a gap
}

type multiBatch struct {
	i   int
	ms  []wire.Message
	err error
}

// multiPump streams the topics of p: an "_open" per topic (or its
// "_gap"), then every message, each with the composite cursor after it.
// A topic whose history is gone gets its "_gap" and leaves the stream
// (its cursor stays in the composite, so a reconnect sees the gap again);
// the others go on.
func (h *Handler) multiPump(w http.ResponseWriter, r *http.Request, p multiParams, st multiStreamer, hb time.Duration) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{})
	ctx, cancel := untilExpiry(r.Context(), p.ident)
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(h.cfg.StreamWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	cursors := append([]wire.Cursor(nil), p.cursors...)
	subs := make([]broker.Subscription, len(p.topics))
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.Close()
			}
		}
	}()
	gaps := make([]*broker.GapError, len(p.topics))
	for i, topic := range p.topics {
		sub, err := h.subscribe(ctx, topic, cursors[i])
		if errors.As(err, &gaps[i]) {
			continue
		}
		if err != nil {
			writeBrokerError(w, err)
			return
		}
		subs[i], cursors[i] = sub, sub.Start()
	}
	w.WriteHeader(http.StatusOK)
	out := append([]byte(nil), st.preamble...)
	live := 0
	id := composite(cursors)
	for i, topic := range p.topics {
		if gaps[i] != nil {
			out = append(out, st.frame(gaps[i].Envelope(), "")...)
			continue
		}
		live++
		out = append(out, st.frame(wire.Control(topic, wire.TypeOpen, cursors[i]), id)...)
	}
	if !write(out) {
		return
	}
	ch := make(chan multiBatch)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for i, sub := range subs {
		if sub == nil {
			continue
		}
		wg.Go(func() {
			for {
				ms, err := sub.Next(ctx)
				select {
				case ch <- multiBatch{i, ms, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		})
	}
	timer := time.NewTimer(hb)
	defer timer.Stop()
	for live > 0 || st.holdOnGap {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			out = out[:0]
			for i, topic := range p.topics {
				if subs[i] == nil {
					continue
				}
				head, err := h.broker.Head(ctx, topic)
				if err != nil {
					return
				}
				out = append(out, st.ping(wire.Control(topic, wire.TypePing, head))...)
			}
			if len(out) == 0 {
				out = st.ping(wire.Message{})
			}
			if !write(out) {
				return
			}
		case b := <-ch:
			var gap *broker.GapError
			switch {
			case errors.As(b.err, &gap):
				subs[b.i].Close()
				subs[b.i] = nil
				live--
				if !write(st.frame(gap.Envelope(), "")) {
					return
				}
			case b.err != nil:
				return
			default:
				out = out[:0]
				for _, m := range b.ms {
					cursors[b.i] = m.Cursor()
					out = append(out, st.frame(m, composite(cursors))...)
				}
				if !write(out) {
					return
				}
			}
		}
		timer.Reset(hb)
	}
}

func (h *Handler) multiSSE(w http.ResponseWriter, r *http.Request) {
	p, ok := h.parseMulti(w, r, true)
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
	defer release()
	httpx.SetSSEHeaders(w)
	named := q.Get("named") != "0"
	event := func(m wire.Message, id string) []byte {
		ev := httpx.SSEEvent{Data: string(httpx.MustJSON(m)), ID: id}
		if named {
			ev.Event = m.Type
		}
		b, _ := httpx.AppendSSE(nil, ev)
		return b
	}
	st := multiStreamer{
		frame:     event,
		ping:      func(wire.Message) []byte { return []byte(": ping\n\n") },
		preamble:  []byte("retry: " + strconv.FormatInt(retry.Milliseconds(), 10) + "\n\n"),
		holdOnGap: true,
	}
	hb := 15 * time.Second
	if p.heartbeat > 0 {
		hb = p.heartbeat
		st.ping = func(m wire.Message) []byte {
			if m.Topic == "" {
				return []byte(": ping\n\n")
			}
			return event(m, "")
		}
	}
	h.multiPump(w, r, p, st, hb)
}

func (h *Handler) multiStream(w http.ResponseWriter, r *http.Request) {
	p, ok := h.parseMulti(w, r, false)
	if !ok {
		return
	}
	release, ok := h.cfg.Streams.Acquire(w, r)
	if !ok {
		return
	}
	defer release()
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	hb := p.heartbeat
	if hb == 0 {
		hb = 15 * time.Second
	}
	line := func(m wire.Message, _ string) []byte { return h.frames.frame(m, frameJSONLine, envelopeLine) }
	h.multiPump(w, r, p, multiStreamer{frame: line, ping: func(m wire.Message) []byte {
		if m.Topic == "" {
			return nil
		}
		return line(m, "")
	}}, hb)
}

// multiPoll answers a JSON array of Batches, one per topic in topic=
// order, with about Config.SessionQueue bytes of data at most (each
// batch's cursor says where its topic goes on). A poll's ETag is the composite cursor its batches end at; a long
// poll waits until one topic has a message (or a gap).
func (h *Handler) multiPoll(w http.ResponseWriter, r *http.Request, long bool) {
	p, ok := h.parseMulti(w, r, false)
	if !ok {
		return
	}
	ctx := r.Context()
	if long {
		timeout, ok := httpx.MillisParam(w, r.URL.Query(), "timeout", 25*time.Second, 10*time.Millisecond, 2*time.Minute)
		if !ok {
			return
		}
		release, ok := h.cfg.Streams.Acquire(w, r)
		if !ok {
			return
		}
		defer release()
		http.NewResponseController(w).SetWriteDeadline(time.Time{})
		if d := time.Until(p.ident.Expires); !p.ident.Expires.IsZero() && d < timeout {
			timeout = max(d, 10*time.Millisecond)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
		stop := context.AfterFunc(h.ctx, cancel)
		defer stop()
	}
	read := func(ctx context.Context) ([]wire.Batch, bool, error) {
		out := make([]wire.Batch, len(p.topics))
		now := false
		size := 0 // bytes of data in the answer: about SessionQueue at most
		for i, topic := range p.topics {
			b, err := h.broker.Read(ctx, topic, p.cursors[i], p.max)
			if err != nil && b.Gap == nil {
				return nil, false, err
			}
			if p.max > 0 && len(b.Messages) > p.max {
				b.Messages = b.Messages[:p.max]
				b.Cursor = b.Messages[p.max-1].Cursor()
			}
			for k, m := range b.Messages {
				if size >= h.cfg.SessionQueue {
					b.Messages = b.Messages[:k]
					b.Cursor = p.cursors[i]
					if k > 0 {
						b.Cursor = b.Messages[k-1].Cursor()
					}
					break
				}
				size += len(m.Data)
			}
			out[i] = b
			now = now || p.cursors[i].IsZero() || b.Gap != nil || len(b.Messages) > 0
		}
		return out, now, nil
	}
	bs, now, err := read(ctx)
	if err == nil && long && !now {
		subs := make([]pollSub, len(p.topics))
		for i, topic := range p.topics {
			subs[i] = pollSub{c: wire.Command{Topic: topic}, from: bs[i].Cursor}
		}
		h.waitAny(ctx, subs)
		if r.Context().Err() != nil {
			return
		}
		bs, _, err = read(context.WithoutCancel(ctx))
	}
	if err != nil {
		writeBrokerError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if !long {
		ends := make([]wire.Cursor, len(bs))
		empty := true
		for i, b := range bs {
			ends[i] = b.Cursor
			empty = empty && len(b.Messages) == 0 && b.Gap == nil
		}
		etag := `"` + composite(ends) + `"`
		w.Header().Set("ETag", etag)
		if empty && r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, bs)
}
