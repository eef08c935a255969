//go:build !js

package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/auth"
)

// config holds every tunable of the server. Each field documents its
// default; defaultConfig sets them.
type config struct {
	// PageOrigin is the origin that serves the page, e.g.
	// "http://127.0.0.1:8080". Set by run from the first listener.
	PageOrigin string
	// SecondOrigin is the origin of the second listener, or empty.
	SecondOrigin string
	// AllowOrigins lists further origins allowed by CORS and WebSocket
	// Accept, besides PageOrigin and SecondOrigin. Defaults to none.
	AllowOrigins []string
	// AllowHosts lists further names the server answers to (Host header),
	// "host:port" or "host" for any port, besides the listeners' addresses
	// and the hosts of the origins above. Any other Host gets 421 (DNS
	// rebinding). Defaults to none.
	AllowHosts []string
	// PublicDir is the folder of static files. Defaults to "public".
	PublicDir string
	// DataDir holds uploads. Defaults to a "comet-data" folder in the
	// system temp dir.
	DataDir string
	// MaxBodyBytes limits request bodies of every endpoint, except the
	// bulk ones. Defaults to 1 MiB.
	MaxBodyBytes int64
	// MaxBulkBytes limits request bodies of the bulk endpoints that count
	// and discard what they read (/xhr/sink: upload progress demos and
	// benchmarks). Defaults to 64 MiB.
	MaxBulkBytes int64
	// MaxStreams caps concurrent streams (SSE, HTTP streaming, long poll,
	// WebSocket) in total; MaxStreamsPerIP per client IP. Defaults to
	// 20000 and 2000: loopback tests hold many from one address.
	MaxStreams, MaxStreamsPerIP int
	// ReadHeaderTimeout, IdleTimeout: http.Server limits. Default 5s, 120s.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxHeaderBytes: http.Server limit. Defaults to 16 KiB.
	MaxHeaderBytes int
	// BodyReadTimeout bounds reading one request body (see guard in
	// security.go): a trickled body is cut. Defaults to 60s.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds writing one ordinary response (see guard): a
	// client that stops reading is cut instead of holding the handler.
	// Streams and long polls clear it and use StreamWriteTimeout per
	// write; WebSocket is exempt. Defaults to 60s.
	WriteTimeout time.Duration
	// StreamWriteTimeout bounds one write of a stream (SSE, HTTP
	// streaming): a client that stops reading is dropped, freeing its
	// slot. Defaults to 10s.
	StreamWriteTimeout time.Duration
	// History is how many messages each realtime topic keeps for clients
	// that resume (package realtime). Defaults to 1024.
	History int
	// HistoryBytes bounds the realtime history of all topics together in
	// bytes; past it the oldest messages are evicted (readers behind them
	// get a gap). Defaults to 256 MiB; each topic keeps at most 16 MiB.
	HistoryBytes int64
	// TokenSecretFile names a file holding the HMAC key (HS256) of the
	// realtime tokens: with it every realtime request needs a valid JWT
	// (package realtime/auth). Defaults to none: the demo topics are open.
	TokenSecretFile string
	// PermissionsFile names a JSON file of topic rules (auth.Rule) used
	// with TokenSecretFile. Defaults to the demo's rules (demoRules).
	PermissionsFile string
	// TestHooks enables the /test/ endpoints that inject faults (cutting
	// subscriber connections). Never on in production. Defaults to false.
	TestHooks bool
	// Broker is the URL of the Redis that carries the realtime topics,
	// redis://HOST:PORT/DB (package redis): every node on it shares the
	// topics, and with Redis's append-only file the history survives
	// restarts. Defaults to empty: the in-memory broker of this process.
	Broker string
}

func defaultConfig() config {
	return config{
		PublicDir:          "public",
		DataDir:            "",
		MaxBodyBytes:       1 << 20,
		MaxBulkBytes:       64 << 20,
		MaxStreams:         20000,
		MaxStreamsPerIP:    2000,
		ReadHeaderTimeout:  5 * time.Second,
		IdleTimeout:        120 * time.Second,
		MaxHeaderBytes:     16 << 10,
		BodyReadTimeout:    60 * time.Second,
		WriteTimeout:       60 * time.Second,
		StreamWriteTimeout: 10 * time.Second,
		History:            1024,
		HistoryBytes:       256 << 20,
	}
}

func (c *config) registerFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PublicDir, "public", c.PublicDir, "folder of static files")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "folder for uploads (default: a temp folder)")
	fs.Func("allow-origin", "another origin allowed by CORS and WebSocket (repeatable)", func(v string) error {
		o, err := httpx.ParseOrigin(v)
		if err != nil {
			return err
		}
		c.AllowOrigins = append(c.AllowOrigins, o)
		return nil
	})
	fs.Func("allow-host", "another name the server answers to, host:port or host (repeatable)", func(v string) error {
		if v == "" || strings.ContainsAny(v, "/ ,*@") {
			return fmt.Errorf("host %q: want host:port or host", v)
		}
		c.AllowHosts = append(c.AllowHosts, v)
		return nil
	})
	fs.Int64Var(&c.MaxBodyBytes, "max-body", c.MaxBodyBytes, "request body limit in bytes")
	fs.Int64Var(&c.MaxBulkBytes, "max-bulk-body", c.MaxBulkBytes, "request body limit of the bulk endpoints (/xhr/sink) in bytes")
	fs.IntVar(&c.MaxStreams, "max-streams", c.MaxStreams, "concurrent streams in total")
	fs.IntVar(&c.MaxStreamsPerIP, "max-streams-per-ip", c.MaxStreamsPerIP, "concurrent streams per client IP")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "http.Server ReadHeaderTimeout")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "http.Server IdleTimeout")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "http.Server MaxHeaderBytes")
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", c.BodyReadTimeout, "time to read one request body")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time to write one ordinary (non-stream) response")
	fs.DurationVar(&c.StreamWriteTimeout, "stream-write-timeout", c.StreamWriteTimeout, "time for one write of a stream to a slow reader")
	fs.IntVar(&c.History, "history", c.History, "messages each realtime topic keeps for resuming clients")
	fs.Int64Var(&c.HistoryBytes, "history-bytes", c.HistoryBytes, "bytes of realtime history kept over all topics (oldest evicted first)")
	fs.StringVar(&c.TokenSecretFile, "token-secret-file", c.TokenSecretFile, "file holding the HMAC key of realtime tokens (HS256); every realtime request then needs a JWT")
	fs.StringVar(&c.PermissionsFile, "permissions", c.PermissionsFile, "JSON file of topic rules for tokens (default: the demo's rules)")
	fs.BoolVar(&c.TestHooks, "test-hooks", c.TestHooks, "enable fault-injection endpoints under /test/ (tests only)")
	fs.StringVar(&c.Broker, "broker", c.Broker, "redis://HOST:PORT/DB of the Redis broker shared by every node (default: in-memory, this process only)")
}

// server owns the mux and all state. There is no package-level state:
// tests build as many servers as they like.
type server struct {
	cfg     config
	logf    func(format string, args ...any)
	mux     *http.ServeMux
	origins *httpx.Origins
	streams *realtime.StreamLimiter // shared with the realtime library: one total
	rt      *realtime.Handler       // realtime.go: the realtime library, mounted
	ws      *wsService              // ws.go: WebSocket limits and the echo
	signer  *auth.Tokens            // -token-secret-file: signs the demo's tokens; nil when open

	// ctx is cancelled by Close; long-lived handlers watch it.
	ctx    context.Context
	cancel context.CancelFunc

	// bodyLimits overrides MaxBodyBytes per route pattern (see guard).
	bodyLimits map[string]int64

	closeOnce sync.Once
	closers   []func() // run by Close, in reverse order
}

// newServer builds the server and its routes. logf receives one line per
// notable event.
func newServer(cfg config, logf func(format string, args ...any)) (*server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{
		cfg:        cfg,
		logf:       logf,
		mux:        http.NewServeMux(),
		bodyLimits: map[string]int64{},
		origins:    ownOrigins(cfg),
		streams:    realtime.NewStreamLimiter(cfg.MaxStreams, cfg.MaxStreamsPerIP),
		ctx:        ctx,
		cancel:     cancel,
	}
	if err := s.routes(); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// ownOrigins is the one trust policy (package httpx): the page and second
// origins, -allow-origin, and their hosts plus -allow-host as the names
// the server answers to. A deployment's public origin belongs in the
// origin list too (its host then is an own name).
func ownOrigins(cfg config) *httpx.Origins {
	return httpx.NewOrigins(append([]string{cfg.PageOrigin, cfg.SecondOrigin}, cfg.AllowOrigins...)...).AddHosts(cfg.AllowHosts...)
}

// routes registers every endpoint. Each feature file adds its own.
func (s *server) routes() error {
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.Handle("GET /", s.staticHandler())
	for _, add := range []func() error{
		s.routesXHR,      // xhr.go: Ajax, CORS, JSONP, beacon, upload
		s.routesWS,       // ws.go: echo
		s.routesRealtime, // realtime.go: the realtime library, and the clock
		s.routesDemo,     // demo.go: pages the demo needs besides public/
	} {
		if err := add(); err != nil {
			return err
		}
	}
	return nil
}

// onClose registers fn to run when the server closes.
func (s *server) onClose(fn func()) { s.closers = append(s.closers, fn) }

// Close ends every stream and releases resources. It is idempotent.
func (s *server) Close() {
	s.closeOnce.Do(func() {
		s.cancel()
		for i := len(s.closers) - 1; i >= 0; i-- {
			s.closers[i]()
		}
	})
}

// ServeHTTP adds the headers every response carries and turns a panic in
// one request into a 500 for that request only.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logf("panic serving %s %s: %v", r.Method, r.URL.Path, v)
			httpx.WriteError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if !s.origins.CheckHost(w, r) { // DNS rebinding: a foreign name
		return
	}
	if !s.guard(w, r) { // security.go: limits every endpoint shares
		return
	}
	s.mux.ServeHTTP(w, r)
}

// httpServer returns an http.Server for one listener. WriteTimeout stays
// zero: streams clear or set their own deadlines.
func (s *server) httpServer(logger *log.Logger) *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       0, // uploads and WebSocket run long; bodies are limited instead
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          logger,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ConnContext:       realtime.ConnContext, // small send buffers for streams
	}
}

// handleHealth answers 200 while the broker can serve and 503 when it
// cannot (Redis unreachable), so a load balancer takes the node out.
func (s *server) handleHealth(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{
		"ok":           true,
		"pageOrigin":   s.cfg.PageOrigin,
		"secondOrigin": s.cfg.SecondOrigin,
		"broker":       s.brokerName(),
		"subscribers":  s.rt.Subscribers(),
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.rt.Health(ctx); err != nil {
		body["ok"] = false
		body["error"] = err.Error()
		httpx.WriteJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

func (c config) String() string {
	return fmt.Sprintf("page=%s second=%s", c.PageOrigin, c.SecondOrigin)
}
