//go:build !js

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/httpx"
)

// WebSocket endpoints (coder/websocket Accept):
//
//	GET /ws/echo       echoes text and binary messages; subprotocol echo.v1;
//	                   ?compress=1 negotiates permessage-deflate
//	GET /ws/realtime   realtime topics over WebSocket (package realtime)
//
// Every connection takes a stream slot (s.streams), passes the one origin
// policy (403 JSON otherwise: no cross-site WebSocket hijacking), has a
// read limit, and is pinged every wsConfig.PingInterval; a peer that does
// not answer within PingTimeout is dropped.
//
// Close codes the server sends besides the test hooks' own:
//
//	1007 invalid data   a text message that is not UTF-8
//	1009 too big        a message over the read limit (coder/websocket)
//	1013 try later      /ws/echo holds too many bytes in flight
//	1001 going away     the server is shutting down

// wsConfig holds the WebSocket limits. Tests may change them right after
// newTestServer, before the first connection.
type wsConfig struct {
	// EchoReadLimit is the largest message /ws/echo accepts. Defaults
	// to 8 MiB.
	EchoReadLimit int64
	// EchoInFlight bounds the bytes all /ws/echo connections together may
	// hold (read and not yet echoed): a message that would pass it closes
	// its connection with 1013 (try again later). Defaults to 64 MiB.
	EchoInFlight int64
	// RealtimeReadLimit is the largest message a realtime WebSocket
	// (sessions included) accepts. Defaults to 16 KiB.
	RealtimeReadLimit int64
	// WriteTimeout bounds one message write. Defaults to 10s.
	WriteTimeout time.Duration
	// PingInterval and PingTimeout: the heartbeat. Defaults 15s and 10s.
	PingInterval, PingTimeout time.Duration
}

func defaultWSConfig() wsConfig {
	return wsConfig{
		EchoReadLimit:     8 << 20,
		EchoInFlight:      64 << 20,
		RealtimeReadLimit: 16 << 10,
		WriteTimeout:      10 * time.Second,
		PingInterval:      15 * time.Second,
		PingTimeout:       10 * time.Second,
	}
}

// wsService is the WebSocket state of one server.
type wsService struct {
	cfg wsConfig
	// echoHeld is the bytes /ws/echo holds (EchoInFlight).
	echoHeld atomic.Int64

	testMu     sync.Mutex
	testCloses map[string]chan wsCloseInfo // test hooks: how conns ended, by id
}

type wsCloseInfo struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// routesWS registers the WebSocket echo and its test hooks.
func (s *server) routesWS() error {
	s.ws = &wsService{cfg: defaultWSConfig(), testCloses: map[string]chan wsCloseInfo{}}
	s.mux.HandleFunc("GET /ws/echo", s.handleWSEcho)
	if s.cfg.TestHooks {
		s.mux.HandleFunc("GET /test/ws/slow", s.handleWSSlow)
		s.mux.HandleFunc("GET /test/ws/flood", s.handleWSFlood)
		s.mux.HandleFunc("GET /test/ws/close", s.handleWSClose)
		s.mux.HandleFunc("GET /test/ws/closed", s.handleWSClosed)
		s.mux.HandleFunc("GET /test/ws/hang", s.handleWSHang)
	}
	return nil
}

// acceptWS checks the origin, takes a stream slot and upgrades. On failure
// it has answered (403 JSON, 503, or 400 from Accept) and ok is false;
// otherwise the caller must call release once the connection is done.
func (s *server) acceptWS(w http.ResponseWriter, r *http.Request, opts *websocket.AcceptOptions) (c *websocket.Conn, release func(), ok bool) {
	return httpx.AcceptWSSlot(w, r, s.origins, s.streams.Acquire, opts)
}

// serveWS runs loop on an accepted connection together with the
// heartbeat (httpx.Keepalive), and returns once both are done.
func (s *server) serveWS(r *http.Request, c *websocket.Conn, loop func(ctx context.Context) error) error {
	k := httpx.Keepalive{PingInterval: s.ws.cfg.PingInterval, PingTimeout: s.ws.cfg.PingTimeout, Logf: s.logf}
	return k.ServeWS(s.ctx, r, c, loop)
}

func (s *server) handleWSEcho(w http.ResponseWriter, r *http.Request) {
	opts := &websocket.AcceptOptions{Subprotocols: []string{"echo.v1"}}
	if r.URL.Query().Get("compress") == "1" {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	c, release, ok := s.acceptWS(w, r, opts)
	if !ok {
		return
	}
	defer release()
	c.SetReadLimit(s.ws.cfg.EchoReadLimit)
	err := s.serveWS(r, c, func(ctx context.Context) error {
		var held int64 // of s.ws.echoHeld, given back after each echo
		defer func() { s.ws.echoHeld.Add(-held) }()
		buf := make([]byte, 32<<10)
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return err
			}
			// Read the message in chunks, each taken from the shared
			// in-flight budget first: many clients that send big messages
			// and never read the echo cannot fill the memory.
			var msg []byte
			for {
				n, err := rd.Read(buf)
				if n > 0 {
					if s.ws.echoHeld.Add(int64(n)) > s.ws.cfg.EchoInFlight {
						s.ws.echoHeld.Add(-int64(n))
						c.Close(websocket.StatusTryAgainLater, "echo: the server holds too many bytes in flight")
						return errors.New("echo: in-flight budget exhausted")
					}
					held += int64(n)
					msg = append(msg, buf[:n]...)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
			}
			if typ == websocket.MessageText && !utf8.Valid(msg) { // RFC 6455 §8.1: fail the connection
				c.Close(websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in a text message")
				return errors.New("echo: invalid UTF-8")
			}
			wctx, cancel := context.WithTimeout(ctx, s.ws.cfg.WriteTimeout) // a reader that stopped reading is dropped
			err = c.Write(wctx, typ, msg)
			cancel()
			s.ws.echoHeld.Add(-held)
			held = 0
			if err != nil {
				return err
			}
		}
	})
	s.recordClose(r, err)
}

// recordClose keeps how a test connection (?id=) ended, for /test/ws/closed.
func (s *server) recordClose(r *http.Request, err error) {
	id := r.URL.Query().Get("id")
	if !s.cfg.TestHooks || id == "" {
		return
	}
	info := wsCloseInfo{Code: int(websocket.CloseStatus(err))}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		info.Reason = ce.Reason
	}
	select {
	case s.ws.closeSlot(id) <- info:
	default:
	}
}

func (ws *wsService) closeSlot(id string) chan wsCloseInfo {
	ws.testMu.Lock()
	defer ws.testMu.Unlock()
	ch, ok := ws.testCloses[id]
	if !ok {
		ch = make(chan wsCloseInfo, 1)
		ws.testCloses[id] = ch
	}
	return ch
}

// handleWSClosed (test hook) waits up to 10s for the test connection ?id=
// to end and answers {"code", "reason"} as the server saw it.
func (s *server) handleWSClosed(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		httpx.WriteError(w, http.StatusBadRequest, "missing id")
		return
	}
	ch := s.ws.closeSlot(id)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case info := <-ch:
		s.ws.testMu.Lock()
		delete(s.ws.testCloses, id)
		s.ws.testMu.Unlock()
		httpx.WriteJSON(w, http.StatusOK, info)
	case <-t.C:
		httpx.WriteError(w, http.StatusNotFound, "connection "+id+" has not closed")
	case <-r.Context().Done():
	}
}

// handleWSSlow (test hook) is a deliberately slow reader: it pauses
// ?pause= milliseconds (default 10) after every ?every= bytes (default
// 4 MiB), with no message size limit. A text message "done" is answered
// with the byte count received.
func (s *server) handleWSSlow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pause := time.Duration(min(max(queryInt(q.Get("pause"), 10), 0), 60000)) * time.Millisecond // clamped before multiplying
	every := int64(queryInt(q.Get("every"), 4<<20))
	c, release, ok := s.acceptWS(w, r, nil)
	if !ok {
		return
	}
	defer release()
	c.SetReadLimit(-1)
	err := s.serveWS(r, c, func(ctx context.Context) error {
		var total, sincePause int64
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return err
			}
			if typ == websocket.MessageText {
				b, err := io.ReadAll(io.LimitReader(rd, 64))
				if err != nil {
					return err
				}
				if string(b) == "done" {
					if err := c.Write(ctx, websocket.MessageText, []byte(strconv.FormatInt(total, 10))); err != nil {
						return err
					}
				}
				continue
			}
			n, err := io.Copy(io.Discard, rd)
			if err != nil {
				return err
			}
			total += n
			if sincePause += n; sincePause >= every {
				sincePause = 0
				select {
				case <-time.After(pause):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
	})
	s.recordClose(r, err)
}

// handleWSFlood (test hook) sends ?n= binary messages of ?size= bytes as
// fast as it can, then reads until the client closes.
func (s *server) handleWSFlood(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, size := queryInt(q.Get("n"), 100), queryInt(q.Get("size"), 1024)
	if n > 100000 || size > 1<<20 {
		httpx.WriteError(w, http.StatusBadRequest, "n or size too large")
		return
	}
	c, release, ok := s.acceptWS(w, r, nil)
	if !ok {
		return
	}
	defer release()
	err := s.serveWS(r, c, func(ctx context.Context) error {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			msg := make([]byte, size)
			for i := 0; i < n && wctx.Err() == nil; i++ {
				if c.Write(wctx, websocket.MessageBinary, msg) != nil {
					return
				}
			}
		}()
		defer func() { cancel(); <-done }()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return err
			}
		}
	})
	s.recordClose(r, err)
}

// handleWSClose (test hook) sends the text "bye", then closes with ?code=
// and ?reason=.
func (s *server) handleWSClose(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code := websocket.StatusCode(queryInt(q.Get("code"), 1000))
	reason := q.Get("reason")
	c, release, ok := s.acceptWS(w, r, nil)
	if !ok {
		return
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte("bye")); err != nil {
		c.CloseNow()
		return
	}
	c.Close(code, reason)
}

// handleWSHang (test hook) never answers the upgrade: the client's dial
// hangs until it gives up (or 30s pass).
func (s *server) handleWSHang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
		httpx.WriteError(w, http.StatusGatewayTimeout, "hung for 30s")
	}
}

// queryInt parses v, or returns def when v is empty or not a number.
func queryInt(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return def
	}
	return n
}
