//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cometwasm/comet/server/hub"
)

// mustJSON encodes v, which cannot fail for the hub's types.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// handleStream is HTTP streaming: newline-delimited JSON envelopes,
// flushed one by one, "_ping" envelopes as heartbeats (heartbeat=MS,
// default 15s).
func (s *server) handleStream(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) {
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	release, ok := s.streams.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	hb := p.heartbeat
	if hb == 0 {
		hb = 15 * time.Second
	}
	st := streamer{
		frame: func(m hub.Message) []byte { return append(mustJSON(m), '\n') },
		ping: func(head hub.Cursor) []byte {
			return append(mustJSON(hub.Control(p.topic, hub.TypePing, head)), '\n')
		},
	}
	s.pump(w, r, p, st, hb)
}

// handlePoll is short polling: the Batch after cursor=, at once. Its ETag
// is the cursor the batch ends at; If-None-Match with the head costs 304.
func (s *server) handlePoll(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) {
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	head, err := s.hub.Head(p.topic)
	if err != nil {
		writeHubError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	etag := `"` + head.String() + `"`
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag && (p.cursor.IsZero() || p.cursor == head) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	b, _ := s.hub.Read(p.topic, p.cursor)
	if b.Gap == nil {
		w.Header().Set("ETag", `"`+b.Cursor.String()+`"`)
	}
	s.answerBatch(w, r, p, b)
}

// handleLongPoll is long polling: the request waits until there is a
// message after cursor= (or a gap), or timeout=MS (default 25s) passes;
// then it answers the Batch, empty on timeout. Without a cursor it answers
// at once with an empty batch and the head cursor.
func (s *server) handleLongPoll(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) {
		return
	}
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	timeout, ok := msParam(w, r.URL.Query(), "timeout", 25*time.Second, 10*time.Millisecond, 2*time.Minute)
	if !ok {
		return
	}
	release, ok := s.streams.acquire(w, r)
	if !ok {
		return
	}
	defer release()
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Cache-Control", "no-cache")
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	var b hub.Batch
	var err error
	if p.cursor.IsZero() {
		// Answer at once with the head: the client must know where it
		// starts before any message, or a lost answer would lose them.
		b, err = s.hub.Read(p.topic, p.cursor)
	} else {
		b, err = s.hub.Wait(ctx, p.topic, p.cursor)
	}
	if err != nil && b.Gap == nil && !errors.Is(err, context.DeadlineExceeded) {
		writeHubError(w, err)
		return
	}
	if r.Context().Err() != nil {
		return // the client left
	}
	s.answerBatch(w, r, p, b)
}

// answerBatch writes b, applying a planned test fault (hub.BatchFault): a
// stall holds the answer until the client leaves; a cut sends half of the
// body and kills the connection.
func (s *server) answerBatch(w http.ResponseWriter, r *http.Request, p feedParams, b hub.Batch) {
	if p.max > 0 && len(b.Messages) > p.max {
		b.Messages = b.Messages[:p.max]
		b.Cursor = b.Messages[p.max-1].Cursor()
	}
	body := append(mustJSON(b), '\n')
	if f, ok := s.hub.BatchFault(p.topic, len(b.Messages)); ok {
		s.hub.Faulted(p.topic, f)
		if f.Status != 0 {
			writeError(w, f.Status, "bad gateway (test fault)")
			return
		}
		if f.Stall {
			select {
			case <-r.Context().Done():
			case <-s.ctx.Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusOK, b)
}
