//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/hub"
)

// Topics the demos use.
const (
	topicClock = "clock" // one {"time": RFC 3339} message per second
	topicChat  = "chat"  // shared with the WebSocket chat (ws.go)
)

// realtimeCORS lets trusted origins read the realtime endpoints, with
// cookies (EventSource withCredentials, XHR withCredentials).
var realtimeCORS = corsOptions{
	Refuse:      true, // a stream for an untrusted origin would hold a slot for nothing
	Credentials: true,
	Headers:     []string{"Content-Type", "Last-Event-ID", "If-None-Match"},
	Expose:      []string{"ETag"},
}

// routesRealtime registers the hub and its transports: SSE, polling, long polling, streaming.
func (s *server) routesRealtime() error {
	s.onClose(s.hub.Close)
	s.mux.HandleFunc("POST /realtime/publish", s.handlePublish)
	s.mux.HandleFunc("OPTIONS /realtime/", s.handleRealtimePreflight)
	s.mux.HandleFunc("GET /realtime/sse", s.handleSSE)
	s.mux.HandleFunc("GET /realtime/countdown", s.handleCountdown)
	s.mux.HandleFunc("GET /realtime/poll", s.handlePoll)
	s.mux.HandleFunc("GET /realtime/longpoll", s.handleLongPoll)
	s.mux.HandleFunc("GET /realtime/stream", s.handleStream)
	if s.cfg.TestHooks {
		s.mux.HandleFunc("POST /test/realtime/faults", s.handleSetFaults)
		s.mux.HandleFunc("GET /test/realtime/faults", s.handleGetFaults)
		s.mux.HandleFunc("POST /test/realtime/reset", s.handleReset)
		s.mux.HandleFunc("GET /test/realtime/subscribers", s.handleSubscribers)
		s.mux.HandleFunc("GET /test/realtime/sse-script", s.handleSSEScript)
	}
	s.startClock()
	return nil
}

func (s *server) handleRealtimePreflight(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r, realtimeCORS) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// startClock publishes the time to topicClock every second until Close.
func (s *server) startClock() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case now := <-tick.C:
				data, _ := json.Marshal(map[string]string{"time": now.UTC().Format(time.RFC3339)})
				s.hub.Publish(topicClock, "tick", data)
			}
		}
	}()
	s.onClose(wg.Wait)
}

// publishRequest is the body of POST /realtime/publish: one message (Type,
// Data) or a batch (Messages).
type publishRequest struct {
	Topic    string          `json:"topic"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	Messages []hub.Draft     `json:"messages"`
}

func (s *server) handlePublish(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, realtimeCORS) { // refuses untrusted origins: no cross-site publishing
		return
	}
	var req publishRequest
	if !decodeJSON(w, r, s.cfg.MaxBodyBytes, &req) {
		return
	}
	if req.Topic == topicClock {
		writeError(w, http.StatusForbidden, "topic clock is published by the server only")
		return
	}
	drafts := req.Messages
	if drafts == nil {
		drafts = []hub.Draft{{Type: req.Type, Data: req.Data}}
	}
	if len(drafts) == 0 || len(drafts) > 10000 {
		writeError(w, http.StatusBadRequest, "messages: want 1 to 10000")
		return
	}
	ms, err := s.hub.PublishBatch(req.Topic, drafts)
	if err != nil {
		writeHubError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cursor": ms[len(ms)-1].Cursor(), "count": len(ms)})
}

// writeHubError answers a hub error with the right status.
func writeHubError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, hub.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, hub.ErrTopics), errors.Is(err, hub.ErrClosed):
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusBadRequest, err.Error())
	}
}

// feedParams are the query parameters every subscribing endpoint reads.
type feedParams struct {
	topic     string
	cursor    hub.Cursor
	heartbeat time.Duration // 0: not asked for
	max       int           // max=N: at most N messages per batch (polls); 0: the hub's limit
}

// parseFeed reads topic= and cursor= (and lastEventId= / Last-Event-ID
// for SSE). On failure it has answered 400.
func parseFeed(w http.ResponseWriter, r *http.Request, sse bool) (feedParams, bool) {
	q := r.URL.Query()
	p := feedParams{topic: q.Get("topic")}
	if !hub.ValidTopic(p.topic) {
		writeError(w, http.StatusBadRequest, "topic: want 1-128 of A-Z a-z 0-9 . _ - : /")
		return p, false
	}
	text := q.Get("cursor")
	if sse {
		if v := q.Get("lastEventId"); v != "" {
			text = v
		}
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			text = v
		}
	}
	c, err := hub.ParseCursor(text)
	if err != nil {
		writeError(w, http.StatusBadRequest, "cursor: want EPOCH-OFFSET, got "+strconv.Quote(text))
		return p, false
	}
	p.cursor = c
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "max: want 1 to 10000")
			return p, false
		}
		p.max = n
	}
	if q.Has("heartbeat") {
		d, ok := msParam(w, q, "heartbeat", 15*time.Second, 50*time.Millisecond, time.Minute)
		if !ok {
			return p, false
		}
		p.heartbeat = d
	}
	return p, true
}

// msParam reads a duration in milliseconds from q[name], def if absent.
// Out of [min, max] or malformed answers 400.
func msParam(w http.ResponseWriter, q url.Values, name string, def, min, max time.Duration) (time.Duration, bool) {
	v := q.Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	d := time.Duration(n) * time.Millisecond
	if err != nil || d < min || d > max {
		writeError(w, http.StatusBadRequest, name+": want milliseconds in ["+strconv.FormatInt(min.Milliseconds(), 10)+", "+strconv.FormatInt(max.Milliseconds(), 10)+"]")
		return 0, false
	}
	return d, true
}

// streamer is what pump needs from one streaming transport (SSE, HTTP
// streaming): how to frame an envelope and a heartbeat.
type streamer struct {
	frame func(m hub.Message) []byte
	ping  func(head hub.Cursor) []byte
	// preamble is written before the first frame (SSE: the retry field).
	preamble []byte
	// holdOnGap keeps the response open after a "_gap" (SSE: so the
	// browser does not reconnect into the same gap).
	holdOnGap bool
}

// pump sends the envelopes of p.topic after p.cursor as frames of st: an
// "_open" first, then every message, heartbeats every hb, until the
// client leaves or the server closes. It applies planned test faults.
func (s *server) pump(w http.ResponseWriter, r *http.Request, p feedParams, st streamer, hb time.Duration) {
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // streams outlive any server WriteTimeout
	ctx := r.Context()
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout)) // drop a reader that stopped reading
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	sub, err := s.hub.Subscribe(ctx, p.topic, p.cursor)
	var gap *hub.GapError
	if errors.As(err, &gap) {
		w.WriteHeader(http.StatusOK)
		if write(append(st.preamble, st.frame(gap.Envelope())...)) && st.holdOnGap {
			s.idle(ctx, w, st, hb, p.topic)
		}
		return
	}
	if err != nil {
		writeHubError(w, err)
		return
	}
	defer sub.Close()
	w.WriteHeader(http.StatusOK)
	if !write(append(st.preamble, st.frame(hub.Control(p.topic, hub.TypeOpen, sub.Start()))...)) {
		return
	}
	fault, faulty := s.hub.NextFault(p.topic)
	sent := 0
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		if faulty && fault.Stall && sent >= fault.After {
			s.hub.Faulted(p.topic, fault)
			select { // silent until the client gives up
			case <-ctx.Done():
			case <-s.ctx.Done():
			}
			return
		}
		ms, err := sub.NextOr(ctx, tick.C)
		switch {
		case errors.As(err, &gap):
			if write(st.frame(gap.Envelope())) && st.holdOnGap {
				s.idle(ctx, w, st, hb, p.topic)
			}
			return
		case err != nil:
			return
		case len(ms) == 0: // heartbeat
			head, _ := s.hub.Head(p.topic)
			if !write(st.ping(head)) {
				return
			}
			continue
		}
		for _, m := range ms {
			b := st.frame(m)
			if faulty && !fault.Stall && sent >= fault.After {
				w.Write(b[:len(b)/2]) // a torn frame, then a dead connection
				rc.Flush()
				s.hub.Faulted(p.topic, fault)
				panic(http.ErrAbortHandler)
			}
			if !write(b) {
				return
			}
			sent++
		}
	}
}

// idle holds the response open with heartbeats until the client leaves.
func (s *server) idle(ctx context.Context, w http.ResponseWriter, st streamer, hb time.Duration, topic string) {
	rc := http.NewResponseController(w)
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ctx.Done():
			return
		case <-tick.C:
			head, _ := s.hub.Head(topic)
			rc.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
			if _, err := w.Write(st.ping(head)); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func (s *server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Topic string `json:"topic"`
		hub.FaultPlan
	}
	if !decodeJSON(w, r, s.cfg.MaxBodyBytes, &req) {
		return
	}
	if err := s.hub.SetFaults(req.Topic, req.FaultPlan); err != nil {
		writeHubError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.hub.Faults(req.Topic))
}

func (s *server) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.hub.Faults(r.URL.Query().Get("topic")))
}

func (s *server) handleReset(w http.ResponseWriter, r *http.Request) {
	if err := s.hub.Reset(r.URL.Query().Get("topic")); err != nil {
		writeHubError(w, err)
		return
	}
	head, _ := s.hub.Head(r.URL.Query().Get("topic"))
	writeJSON(w, http.StatusOK, map[string]any{"cursor": head})
}

func (s *server) handleSubscribers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]int{"subscribers": s.hub.Subscribers(), "streams": s.streams.count()})
}
