//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// handleStream is HTTP streaming: newline-delimited JSON envelopes,
// flushed one by one, "_ping" envelopes as heartbeats (heartbeat=MS,
// default 15s).
func (h *Handler) handleStream(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	if multi(r) {
		h.multiStream(w, r)
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	id, ok := h.admit(w, r, p.topic)
	if !ok {
		return
	}
	release, ok := h.cfg.Streams.Acquire(w, r)
	if !ok {
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/x-ndjson; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no")
	hb := p.heartbeat
	if hb == 0 {
		hb = 15 * time.Second
	}
	st := streamer{
		frame: func(m wire.Message) []byte { return h.frames.frame(m, frameJSONLine, envelopeLine) },
		ping: func(head wire.Cursor) []byte {
			return append(httpx.MustJSON(wire.Control(p.topic, wire.TypePing, head)), '\n')
		},
	}
	h.pump(w, r, id, release, p, st, hb) // it releases the slot
}

// handlePoll is short polling: the Batch after cursor=, at once. Its ETag
// is the cursor the batch ends at; If-None-Match with the head costs 304.
func (h *Handler) handlePoll(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	if multi(r) {
		h.multiPoll(w, r, false)
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	if _, ok := h.admit(w, r, p.topic); !ok {
		return
	}
	head, err := h.broker.Head(r.Context(), p.topic)
	if err != nil {
		writeBrokerError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	etag := `"` + head.String() + `"`
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag && (p.cursor.IsZero() || p.cursor == head) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	b, err := h.broker.Read(r.Context(), p.topic, p.cursor, p.max)
	if err != nil && b.Gap == nil {
		writeBrokerError(w, err)
		return
	}
	if b.Gap == nil {
		w.Header().Set("ETag", `"`+b.Cursor.String()+`"`)
	}
	h.answerBatch(w, r, p, b)
}

// handleLongPoll is long polling: the request waits until there is a
// message after cursor= (or a gap), or timeout=MS (default 25s) passes;
// then it answers the Batch, empty on timeout. Without a cursor it answers
// at once with an empty batch and the head cursor.
func (h *Handler) handleLongPoll(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	if multi(r) {
		h.multiPoll(w, r, true)
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	timeout, ok := httpx.MillisParam(w, r.URL.Query(), "timeout", 25*time.Second, 10*time.Millisecond, 2*time.Minute)
	if !ok {
		return
	}
	if _, ok := h.admit(w, r, p.topic); !ok {
		return
	}
	release, ok := h.cfg.Streams.Acquire(w, r)
	if !ok {
		return
	}
	defer release()
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Cache-Control", "no-cache")
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()
	b, err := h.wait(ctx, p)
	if err != nil && b.Gap == nil {
		writeBrokerError(w, err)
		return
	}
	if r.Context().Err() != nil {
		return // the client left
	}
	h.answerBatch(w, r, p, b)
}

// wait reads the batch after p.cursor, waiting for one while there is
// none and ctx lasts. The zero cursor answers at once with the head: the
// client must know where it starts before any message, or a lost answer
// would lose them. When ctx ends it answers the empty batch.
func (h *Handler) wait(ctx context.Context, p feedParams) (wire.Batch, error) {
	b, err := h.broker.Read(ctx, p.topic, p.cursor, p.max)
	if err != nil || len(b.Messages) > 0 || p.cursor.IsZero() {
		return b, err
	}
	sub, err := h.subscribe(ctx, p.topic, b.Cursor)
	var gap *broker.GapError
	if errors.As(err, &gap) {
		return wire.Batch{Topic: p.topic, Messages: []wire.Message{}, Cursor: gap.Resume, Gap: &gap.Gap}, gap
	}
	if err != nil {
		if ctx.Err() != nil {
			return b, nil
		}
		return b, err
	}
	defer sub.Close()
	ms, err := sub.Next(ctx)
	switch {
	case errors.As(err, &gap):
		return wire.Batch{Topic: p.topic, Messages: []wire.Message{}, Cursor: gap.Resume, Gap: &gap.Gap}, gap
	case err != nil && ctx.Err() != nil:
		return b, nil // timed out: the empty batch
	case err != nil:
		return b, err
	}
	if p.max > 0 && len(ms) > p.max {
		ms = ms[:p.max]
	}
	return wire.Batch{Topic: p.topic, Messages: ms, Cursor: ms[len(ms)-1].Cursor()}, nil
}

// answerBatch writes b, applying a planned test fault (see faults): a
// stall holds the answer until the client leaves; a cut sends half of the
// body and kills the connection.
func (h *Handler) answerBatch(w http.ResponseWriter, r *http.Request, p feedParams, b wire.Batch) {
	if p.max > 0 && len(b.Messages) > p.max {
		b.Messages = b.Messages[:p.max]
		b.Cursor = b.Messages[p.max-1].Cursor()
	}
	body := append(httpx.MustJSON(b), '\n')
	if f, ok := h.faults.batch(p.topic, len(b.Messages)); ok {
		h.faults.done(p.topic, f)
		if f.Status != 0 {
			httpx.WriteError(w, f.Status, "bad gateway (test fault)")
			return
		}
		if f.Stall {
			select {
			case <-r.Context().Done():
			case <-h.ctx.Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
