//go:build !js

package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime"
)

// Topics the demos use.
const (
	topicClock = "clock" // one {"time": RFC 3339} message per second
	topicChat  = "chat"  // shared with the WebSocket chat (chat.go)
	// topicCountdown is reserved: the countdown is its own stream, and a
	// page must not be fed a forged one under its name.
	topicCountdown = "countdown"
)

// serverTopics are fed by the server only: a client's publish gets 403
// (the chat rooms "chat:ROOM" too, or anyone could forge room history).
var serverTopics = []string{topicClock, topicChat, topicChatRooms, topicCountdown}

// streamCORS lets trusted origins read the demo's own event streams
// (countdown), with cookies.
var streamCORS = httpx.CORSOptions{
	Refuse:      true, // a stream for an untrusted origin would hold a slot for nothing
	Credentials: true,
	Headers:     []string{"Content-Type", "Last-Event-ID"},
}

// routesRealtime mounts the realtime library (package realtime) like any
// user would: under /realtime/, with /ws/realtime as the WebSocket path of
// earlier versions, and its fault endpoints under /test/realtime/ with
// -test-hooks. The demo's own streams (countdown) sit beside it.
func (s *server) routesRealtime() error {
	rt, err := realtime.New(realtime.Config{
		History:            s.cfg.History,
		Origins:            s.origins.List(),
		Hosts:              s.origins.Hosts(),
		ServerTopics:       serverTopics,
		Streams:            s.streams,
		MaxBody:            s.cfg.MaxBodyBytes,
		BodyReadTimeout:    s.cfg.BodyReadTimeout,
		WriteTimeout:       s.cfg.WriteTimeout,
		StreamWriteTimeout: s.cfg.StreamWriteTimeout,
		WSReadLimit:        s.ws.cfg.ChatReadLimit,
		PingInterval:       s.ws.cfg.PingInterval,
		PingTimeout:        s.ws.cfg.PingTimeout,
		FaultInjection:     s.cfg.TestHooks,
		Logf:               s.logf,
	})
	if err != nil {
		return err
	}
	s.rt = rt
	s.onClose(func() { rt.Close() })
	lib := http.StripPrefix("/realtime", rt)
	for _, m := range []string{"GET", "POST", "OPTIONS"} { // "GET /" serves the page
		s.mux.Handle(m+" /realtime/", lib)
	}
	s.mux.Handle("GET /ws/realtime", withPath("/ws", rt))
	s.mux.HandleFunc("GET /realtime/countdown", s.handleCountdown)
	if s.cfg.TestHooks {
		faults := http.StripPrefix("/test/realtime", rt.FaultHandler())
		s.mux.Handle("GET /test/realtime/", faults)
		s.mux.Handle("POST /test/realtime/", faults)
		s.mux.HandleFunc("GET /test/realtime/sse-script", s.handleSSEScript)
	}
	s.startClock()
	return nil
}

// withPath serves every request to h with the path p.
func withPath(p string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = p, ""
		h.ServeHTTP(w, r2)
	})
}

// startClock publishes the time to topicClock every second until Close.
func (s *server) startClock() {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case now := <-tick.C:
				data, _ := json.Marshal(map[string]string{"time": now.UTC().Format(time.RFC3339)})
				s.rt.Publish(s.ctx, topicClock, "tick", data)
			}
		}
	})
	s.onClose(wg.Wait)
}
