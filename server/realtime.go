//go:build !js

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
)

// Topics the demos use.
const (
	topicClock = "clock" // one {"time": RFC 3339} message per second
	// topicCountdown is reserved: the countdown is its own stream, and a
	// page must not be fed a forged one under its name.
	topicCountdown = "countdown"
)

// serverTopics are fed by the server only: a client's publish gets 403.
// The chat's topics are sender topics instead: a client's publish is
// stored with the sender the server names (chat.go).
var serverTopics = []string{topicClock, topicCountdown}

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
	authz, err := s.tokens()
	if err != nil {
		return err
	}
	b, err := s.newBroker()
	if err != nil {
		return err
	}
	rt, err := realtime.New(realtime.Config{
		Auth:               authz,
		Broker:             b,
		History:            s.cfg.History,
		Limits:             broker.Limits{TotalHistoryBytes: s.cfg.HistoryBytes, HistoryBytes: min(16<<20, s.cfg.HistoryBytes)},
		Origins:            s.origins.List(),
		Hosts:              s.origins.Hosts(),
		ServerTopics:       append(serverTopics, dashPrefix+"*"),
		SenderTopics:       []string{topicChatRooms, topicChatDM}, // the chat: the server names the sender
		Streams:            s.streams,
		MaxBody:            s.cfg.MaxBodyBytes,
		BodyReadTimeout:    s.cfg.BodyReadTimeout,
		WriteTimeout:       s.cfg.WriteTimeout,
		StreamWriteTimeout: s.cfg.StreamWriteTimeout,
		WSReadLimit:        s.ws.cfg.RealtimeReadLimit,
		PingInterval:       s.ws.cfg.PingInterval,
		PingTimeout:        s.ws.cfg.PingTimeout,
		FaultInjection:     s.cfg.TestHooks,
		Logf:               s.logf,
	})
	if err != nil {
		if b != nil {
			b.Close()
		}
		return err
	}
	s.rt = rt
	if b != nil {
		s.onClose(func() { b.Close() }) // after rt's: closers run in reverse
	}
	s.onClose(func() { rt.Close() })
	var lib http.Handler = http.StripPrefix("/realtime", rt)
	if s.cfg.TestHooks {
		gate := newTransportGate() // POST /test/realtime/block (realtime_block.go)
		lib = gate.wrap(lib)
		s.mux.HandleFunc("POST /test/realtime/block", gate.handleBlock)
	}
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
	s.startDashboard()
	return nil
}

// demoRules are the topic rules with -token-secret-file and no
// -permissions: the chat's private topics (dm:USER: read by USER alone,
// written by any signed-in user; chat.go), a private topic space per user,
// the clock for anyone, the rest for signed-in users.
var demoRules = []auth.Rule{
	{Pattern: "dm:{sub}", Subscribe: auth.Users, Publish: auth.Users},
	{Pattern: topicChatDM, Subscribe: auth.Nobody, Publish: auth.Users},
	{Pattern: "user:{sub}:*", Subscribe: auth.Users, Publish: auth.Users},
	{Pattern: "user:*", Subscribe: auth.Nobody, Publish: auth.Nobody},
	{Pattern: topicClock, Subscribe: auth.Anyone, Publish: auth.Nobody},
	{Pattern: "*", Subscribe: auth.Users, Publish: auth.Users},
}

// tokens returns the Authorizer of -token-secret-file, or nil (open).
func (s *server) tokens() (realtime.Authorizer, error) {
	if s.cfg.TokenSecretFile == "" {
		return nil, nil
	}
	key, err := os.ReadFile(s.cfg.TokenSecretFile)
	if err != nil {
		return nil, err
	}
	key = bytes.TrimSpace(key)
	if len(key) < 32 {
		return nil, fmt.Errorf("-token-secret-file %s: want at least 32 bytes of key, got %d", s.cfg.TokenSecretFile, len(key))
	}
	rules := demoRules
	if s.cfg.PermissionsFile != "" {
		if rules, err = auth.LoadRules(s.cfg.PermissionsFile); err != nil {
			return nil, err
		}
	}
	s.signer = &auth.Tokens{Secret: key, Rules: rules}
	return s.signer, nil
}

// newBroker returns the Redis broker of -broker, or nil for the library's
// in-memory default.
func (s *server) newBroker() (broker.Broker, error) {
	if s.cfg.Broker == "" {
		return nil, nil
	}
	u, err := url.Parse(s.cfg.Broker)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return nil, fmt.Errorf("-broker %q: want redis://HOST:PORT/DB", s.cfg.Broker)
	}
	b, err := redis.New(redis.Config{URL: s.cfg.Broker, Limits: broker.Limits{History: s.cfg.History, TotalHistoryBytes: s.cfg.HistoryBytes, HistoryBytes: min(16<<20, s.cfg.HistoryBytes)}})
	if err != nil {
		return nil, fmt.Errorf("-broker: %w", err)
	}
	return b, nil
}

// brokerName says which broker carries the topics, for /healthz: "memory"
// or the Redis address without credentials.
func (s *server) brokerName() string {
	if s.cfg.Broker == "" {
		return "memory"
	}
	if u, err := url.Parse(s.cfg.Broker); err == nil {
		u.User = nil
		return u.String()
	}
	return "redis"
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
// The second is the publish's idempotency key: nodes sharing a Redis broker
// each tick, and the topic still gets one message per second.
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
				sec := now.UTC().Truncate(time.Second)
				data, _ := json.Marshal(map[string]string{"time": sec.Format(time.RFC3339)})
				s.rt.Broker().Publish(s.ctx, topicClock, []wire.Draft{{Type: "tick", Data: data}},
					broker.PublishOptions{IdempotencyKey: "clock-" + strconv.FormatInt(sec.Unix(), 10)})
			}
		}
	})
	s.onClose(wg.Wait)
}
