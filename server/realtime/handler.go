//go:build !js

package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

// Config tunes a Handler. The zero value serves clients on loopback names
// with an in-memory broker and the defaults below; pages (which send an
// Origin header) need their origin in Origins.
type Config struct {
	// Broker carries the messages. Defaults to an in-memory broker
	// (package memory) keeping History messages per topic, which the
	// Handler closes on Close; a Broker given here is the caller's to
	// close.
	Broker broker.Broker
	// History is how many messages each topic of the default broker
	// keeps for resuming clients. Defaults to 1024.
	History int
	// Limits bound the default broker (see broker.Limits for the
	// defaults: 16 MiB of history per topic, 256 MiB in total, 10000
	// topics, idle topics dropped after 15 minutes); its History is
	// taken from History above.
	Limits broker.Limits
	// NewTopicRate and NewTopicBurst bound the topics one client IP may
	// create by publishing: NewTopicBurst at once, then NewTopicRate per
	// second; past it a publish to a new topic gets 429. Defaults to 2
	// per second and 200.
	NewTopicRate  float64
	NewTopicBurst int
	// Origins lists the origins (scheme://host[:port]) whose pages may
	// connect, subscribe and publish, the server's own page origin too: a
	// browser sends Origin on same-origin POSTs and WebSockets, and an
	// Origin equal to the request's Host proves nothing (DNS rebinding).
	// Requests without an Origin header are allowed. Defaults to none.
	Origins []string
	// Hosts lists the names the Handler answers to (the Host header)
	// besides the hosts of Origins: "host:port", or "host" for any port.
	// A request for another Host gets 421, which defeats DNS rebinding.
	// Defaults to "localhost", "127.0.0.1" and "::1", any port.
	Hosts []string
	// ServerTopics lists topics only the server publishes to, through
	// Handler.Publish; a client's publish gets 403. A name ending in "*"
	// matches every topic with that prefix. Defaults to none.
	ServerTopics []string
	// Streams caps concurrent streams (SSE, HTTP streaming, long polls,
	// WebSocket). Share one with your own long-lived endpoints to keep one
	// total. Defaults to NewStreamLimiter(20000, 2000).
	Streams *StreamLimiter
	// MaxBody limits a publish body in bytes (413). Defaults to 1 MiB.
	MaxBody int64
	// MaxBatch limits the messages of one publish. Defaults to 10000.
	MaxBatch int
	// BodyReadTimeout bounds receiving a request body (408). Defaults to
	// 60s.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds writing an ordinary response (publish, poll).
	// Defaults to 60s.
	WriteTimeout time.Duration
	// StreamWriteTimeout bounds one write of a stream or WebSocket: a
	// reader that stopped reading is dropped, freeing its slot, half to
	// all of it after the write started (a connection's deadline is
	// renewed only when less than half is left). Defaults to 10s.
	StreamWriteTimeout time.Duration
	// StreamSendBuffer is the kernel send buffer of a stream's connection
	// (SSE, HTTP streaming), in bytes: a reader that stops reading is
	// dropped (StreamWriteTimeout) once about this much is unsent,
	// instead of the kernel queueing megabytes per reader. It needs
	// ConnContext as the http.Server's ConnContext. Defaults to 64 KiB.
	StreamSendBuffer int
	// WSReadLimit is the largest message a WebSocket client may send.
	// Defaults to 16 KiB.
	WSReadLimit int64
	// PingInterval and PingTimeout are the WebSocket heartbeat: a peer
	// that does not answer a ping within PingTimeout is dropped. Defaults
	// to 15s and 10s.
	PingInterval, PingTimeout time.Duration
	// Auth authenticates every request and authorizes each subscribe and
	// publish (package auth implements it with JWTs and topic rules).
	// Defaults to open access: anyone may subscribe and publish to any
	// topic but the ServerTopics.
	Auth Authorizer
	// SenderTopics lists topics (names, or prefixes ending in "*") whose
	// client publishes are stored as a Sent, {"from":MEMBER,"data":DATA}:
	// the sender is the publishing session's member ({"client":ID,
	// "user":U}; over POST publish {"client":"","user":U}), which no client
	// can forge. Handler.Publish stores data as given. Defaults to none.
	SenderTopics []string
	// SessionTopics bounds the subscriptions of one session (err
	// "too_many" past it). Defaults to 256; at most wire.MaxSessionTopics.
	SessionTopics int
	// SessionQueue bounds the bytes queued for one session's connection:
	// its subscriptions wait while it is full, so a reader that does not
	// keep up falls behind the history and gets a "gap" frame. Defaults to
	// 1 MiB.
	SessionQueue int
	// SessionRate and SessionBurst bound the commands of one session (a
	// token bucket: Rate per second, Burst at once; err "too_many" past
	// it). Default to 200 and 1100 (a full resubscribe fits one burst).
	SessionRate  float64
	SessionBurst int
	// Presence keeps the members of topics for sessions (join, leave,
	// who). Defaults to Broker when it implements broker.Presence (the
	// default memory broker does); with none, presence commands answer
	// "unavailable".
	Presence broker.Presence
	// PresenceTTL is how long a member stays without a refresh; its node
	// refreshes it every PresenceTTL/3, and the members of a node that
	// died leave within 4/3 PresenceTTL (a sweep every TTL/3 after the TTL).
	// Defaults to 15s.
	PresenceTTL time.Duration
	// FaultInjection makes FaultHandler serve endpoints that plan cuts and
	// stalls of the transports (tests only). Defaults to false.
	FaultInjection bool
	// Logf receives one line per notable event. Defaults to log.Printf.
	Logf func(format string, args ...any)
}

func (c *Config) fill() {
	if c.History <= 0 {
		c.History = 1024
	}
	if c.Streams == nil {
		c.Streams = NewStreamLimiter(20000, 2000)
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 10000
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = 60 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 60 * time.Second
	}
	if c.StreamWriteTimeout <= 0 {
		c.StreamWriteTimeout = 10 * time.Second
	}
	if c.WSReadLimit <= 0 {
		c.WSReadLimit = 16 << 10
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.Logf == nil {
		c.Logf = log.Printf
	}
	if c.StreamSendBuffer <= 0 {
		c.StreamSendBuffer = 64 << 10
	}
	if c.NewTopicRate <= 0 {
		c.NewTopicRate = 2
	}
	if c.NewTopicBurst <= 0 {
		c.NewTopicBurst = 200
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if c.SessionTopics <= 0 || c.SessionTopics > wire.MaxSessionTopics {
		c.SessionTopics = min(256, wire.MaxSessionTopics)
	}
	if c.SessionQueue <= 0 {
		c.SessionQueue = 1 << 20
	}
	if c.SessionRate <= 0 {
		c.SessionRate = 200
	}
	if c.SessionBurst <= 0 {
		c.SessionBurst = 1100
	}
	if c.PresenceTTL <= 0 {
		c.PresenceTTL = 15 * time.Second
	}
}

// Handler serves every realtime transport of one broker. Mount it under a
// prefix with http.StripPrefix; see the package doc for its paths.
type Handler struct {
	cfg       Config
	broker    broker.Broker
	ownBroker bool
	origins   *httpx.Origins
	guard     httpx.Guard
	keepalive httpx.Keepalive
	mux       *http.ServeMux
	faults    *faults // nil unless FaultInjection
	quota     *topicQuota
	frames    *frameCache
	auth      Authorizer
	subs      atomic.Int64
	sessions  atomic.Int64
	presence  broker.Presence // nil: none

	// closedOnly: the broker is the memory broker, whose subscriptions
	// call back (TryNext): a session subscribes with a context that never
	// ends and closes the subscription itself, so a subscription costs no
	// context of its own in the broker (session.open).
	closedOnly bool

	node      string        // the id of this Handler in session ids
	nodeReady chan struct{} // closed once it follows its command topic
	sessMu    sync.Mutex
	oneway    map[string]*session // the SSE and stream sessions, by id

	presMu     sync.Mutex
	presTopics map[string]int // topic → local members (presence.go)
	presLocal  map[string]int // topic "\n" client → this node's sessions that are that member
	polled     pollPresence   // the topics polls joined (session_pollpres.go)

	// ctx ends with Close; every stream watches it.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New returns a Handler for cfg. It fails on a malformed origin.
func New(cfg Config) (*Handler, error) {
	cfg.fill()
	for _, o := range cfg.Origins {
		if _, err := httpx.ParseOrigin(o); err != nil {
			return nil, err
		}
	}
	h := &Handler{
		cfg:     cfg,
		broker:  cfg.Broker,
		origins: httpx.NewOrigins(cfg.Origins...).AddHosts(cfg.Hosts...),
		guard: httpx.Guard{MaxBody: cfg.MaxBody, BodyReadTimeout: cfg.BodyReadTimeout, WriteTimeout: cfg.WriteTimeout,
			WebSocketRoute: func(r *http.Request) bool { return r.URL.Path == "/ws" || r.URL.Path == "/session/ws" }},
		keepalive: httpx.Keepalive{PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, Logf: cfg.Logf},
		mux:       http.NewServeMux(),
		quota:     newTopicQuota(cfg.NewTopicRate, cfg.NewTopicBurst),
	}
	h.frames = newFrameCache()
	h.auth = cfg.Auth
	if h.auth == nil {
		h.auth = openAccess{}
	}
	if h.broker == nil {
		lim := cfg.Limits
		lim.History = cfg.History
		h.broker = memory.New(lim)
		h.ownBroker = true
	}
	_, h.closedOnly = h.broker.(*memory.Broker)
	if cfg.FaultInjection {
		h.faults = newFaults()
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.presence = cfg.Presence
	if p, ok := h.broker.(broker.Presence); ok && h.presence == nil {
		h.presence = p
	}
	h.presTopics = map[string]int{}
	h.presLocal = map[string]int{}
	h.polled.until = map[string]time.Time{}
	h.node, h.nodeReady, h.oneway = randomID(), make(chan struct{}), map[string]*session{}
	go h.followNode()
	if h.presence != nil {
		go h.sweepPresence()
	}
	h.mux.HandleFunc("POST /publish", h.handlePublish)
	h.mux.HandleFunc("OPTIONS /", h.handlePreflight)
	h.mux.HandleFunc("GET /sse", h.handleSSE)
	h.mux.HandleFunc("GET /stream", h.handleStream)
	h.mux.HandleFunc("GET /poll", h.handlePoll)
	h.mux.HandleFunc("GET /longpoll", h.handleLongPoll)
	h.mux.HandleFunc("GET /ws", h.handleWS)
	h.mux.HandleFunc("GET /health", h.handleHealth)
	h.mux.HandleFunc("GET /session/ws", h.handleSessionWS)
	h.mux.HandleFunc("GET /session/sse", h.handleSessionSSE)
	h.mux.HandleFunc("GET /session/stream", h.handleSessionStream)
	h.mux.HandleFunc("POST /session/cmd", h.handleSessionCmd)
	h.mux.HandleFunc("GET /session/poll", h.handleSessionPoll)
	h.mux.HandleFunc("GET /session/longpoll", h.handleSessionLongPoll)
	return h, nil
}

// ServeHTTP serves the realtime endpoints under the guard of cfg's limits.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !h.origins.CheckHost(w, r) || !h.guard.Check(w, r, 0) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Broker returns the broker the Handler serves.
func (h *Handler) Broker() broker.Broker { return h.broker }

// Publish appends one message to topic from the server side: server
// topics (Config.ServerTopics) accept it too.
func (h *Handler) Publish(ctx context.Context, topic, typ string, data json.RawMessage) (broker.Receipt, error) {
	return h.broker.Publish(ctx, topic, []wire.Draft{{Type: typ, Data: data}}, broker.PublishOptions{})
}

// Health reports whether the broker can serve.
func (h *Handler) Health(ctx context.Context) error { return h.broker.Health(ctx) }

// Subscribers returns the number of subscriptions the transports hold.
func (h *Handler) Subscribers() int { return int(h.subs.Load()) }

// Sessions returns the number of live sessions.
func (h *Handler) Sessions() int { return int(h.sessions.Load()) }

// closeWait bounds how long Close waits for the sessions it ends.
const closeWait = 5 * time.Second

// Close ends every stream and session, waits (at most 5 s) until the
// sessions have finished, their presence leaves published, then closes
// the default broker. It is idempotent.
func (h *Handler) Close() error {
	h.closeOnce.Do(func() {
		h.cancel()
		for end := time.Now().Add(closeWait); h.sessions.Load() > 0 && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
		if h.ownBroker {
			h.broker.Close()
		}
	})
	return nil
}

// serverTopic reports whether topic is fed by the server only.
func (h *Handler) serverTopic(topic string) bool { return matchTopic(h.cfg.ServerTopics, topic) }

// matchTopic reports whether topic matches one of patterns (a name, or a
// prefix ending in "*").
func matchTopic(patterns []string, topic string) bool {
	for _, p := range patterns {
		if p == topic || strings.HasSuffix(p, "*") && strings.HasPrefix(topic, p[:len(p)-1]) {
			return true
		}
	}
	return false
}

// Sent is the data the Handler stores for a client's publish to a topic of
// Config.SenderTopics: who sent it, and what.
type Sent struct {
	From wire.Member     `json:"from"`
	Data json.RawMessage `json:"data"`
}

// stamp wraps data in a Sent from m when topic is a sender topic.
func (h *Handler) stamp(topic string, m wire.Member, data json.RawMessage) json.RawMessage {
	if !matchTopic(h.cfg.SenderTopics, topic) {
		return data
	}
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, _ := json.Marshal(Sent{From: m, Data: data})
	return b
}

// corsOptions lets trusted origins read the realtime endpoints, with
// cookies (EventSource withCredentials, XHR withCredentials).
var corsOptions = httpx.CORSOptions{
	Refuse:      true, // a stream for an untrusted origin would hold a slot for nothing
	Credentials: true,
	Headers:     []string{"Content-Type", "Last-Event-ID", "If-None-Match", "Idempotency-Key", "Authorization"},
	Expose:      []string{"ETag"},
}

func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	return httpx.CORS(w, r, h.origins, corsOptions)
}

func (h *Handler) handlePreflight(w http.ResponseWriter, r *http.Request) {
	if !h.cors(w, r) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (h *Handler) handleHealth(w http.ResponseWriter, r *http.Request) {
	if err := h.Health(r.Context()); err != nil {
		httpx.WriteError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// subscribe is broker.Subscribe, counted for Subscribers.
func (h *Handler) subscribe(ctx context.Context, topic string, from wire.Cursor) (broker.Subscription, error) {
	sub, err := h.broker.Subscribe(ctx, topic, from)
	if err != nil {
		return nil, err
	}
	h.subs.Add(1)
	return &countedSub{Subscription: sub, n: &h.subs}, nil
}

type countedSub struct {
	broker.Subscription
	n    *atomic.Int64
	once sync.Once
}

func (s *countedSub) Close() {
	s.once.Do(func() { s.n.Add(-1) })
	s.Subscription.Close()
}

// writeBrokerError answers a broker error with the right status.
func writeBrokerError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, broker.ErrTooLarge):
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, err.Error())
	case errors.Is(err, broker.ErrTopics), errors.Is(err, broker.ErrClosed), errors.Is(err, broker.ErrUnavailable):
		w.Header().Set("Retry-After", "2")
		httpx.WriteError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		httpx.WriteError(w, http.StatusServiceUnavailable, "broker: "+err.Error())
	default:
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
	}
}
