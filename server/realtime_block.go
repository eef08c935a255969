//go:build !js

package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// transportGate blocks session transports for a while (tests only,
// -test-hooks), as a proxy or a network that refuses WebSocket would:
//
//	POST /test/realtime/block {"transport":"ws","ms":2000}
//
// While a transport is blocked, its endpoint (GET
// /realtime/session/{ws,sse,stream,longpoll,poll}) answers 503, and the
// connections open on it when the block starts are ended. ms 0 lifts the
// block. The answer is {"blocked":N}: how many open connections it ended.
type transportGate struct {
	mu    sync.Mutex
	until map[string]time.Time
	// open: how to end each open connection of a transport: a request's
	// cancel, or a hijacked connection's Close (a WebSocket is served
	// after its handler returned).
	open map[string]map[*func()]struct{}
}

func newTransportGate() *transportGate {
	return &transportGate{until: map[string]time.Time{}, open: map[string]map[*func()]struct{}{}}
}

// add registers end under transport name and returns its removal.
func (g *transportGate) add(name string, end func()) (remove func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open[name] == nil {
		g.open[name] = map[*func()]struct{}{}
	}
	k := &end
	g.open[name][k] = struct{}{}
	return func() {
		g.mu.Lock()
		delete(g.open[name], k)
		g.mu.Unlock()
	}
}

// gateWriter hands out hijacked connections that the gate can end.
type gateWriter struct {
	http.ResponseWriter
	g    *transportGate
	name string
}

func (w gateWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w gateWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	gc := &gateConn{Conn: c}
	gc.remove = w.g.add(w.name, func() { c.Close() })
	return gc, brw, nil
}

// gateConn leaves the gate's list when closed.
type gateConn struct {
	net.Conn
	once   sync.Once
	remove func()
}

func (c *gateConn) Close() error {
	c.once.Do(c.remove)
	return c.Conn.Close()
}

// sessionTransport returns the transport of a session path, or "".
func sessionTransport(path string) string {
	name, ok := strings.CutPrefix(path, "/realtime/session/")
	if !ok {
		return ""
	}
	switch name {
	case "ws", "sse", "stream", "longpoll", "poll":
		return name
	}
	return ""
}

// wrap serves h behind the gate.
func (g *transportGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := sessionTransport(r.URL.Path)
		if name == "" || r.Method != http.MethodGet {
			h.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		g.mu.Lock()
		blocked := time.Now().Before(g.until[name])
		g.mu.Unlock()
		if blocked {
			httpx.WriteError(w, http.StatusServiceUnavailable, "test: transport "+name+" is blocked")
			return
		}
		defer g.add(name, cancel)()
		h.ServeHTTP(gateWriter{w, g, name}, r.WithContext(ctx))
	})
}

// handleBlock serves POST /test/realtime/block.
func (g *transportGate) handleBlock(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Transport string `json:"transport"`
		MS        int    `json:"ms"`
	}
	if !httpx.DecodeJSON(w, r, 1<<10, &req) {
		return
	}
	if sessionTransport("/realtime/session/"+req.Transport) == "" || req.MS < 0 || req.MS > 60000 {
		httpx.WriteError(w, http.StatusBadRequest, `want {"transport":"ws"|"sse"|"stream"|"longpoll"|"poll","ms":0-60000}`)
		return
	}
	g.mu.Lock()
	g.until[req.Transport] = time.Now().Add(time.Duration(req.MS) * time.Millisecond)
	n := 0
	if req.MS > 0 {
		for end := range g.open[req.Transport] {
			(*end)() // neither takes g.mu
			n++
		}
	}
	g.mu.Unlock()
	httpx.WriteJSON(w, http.StatusOK, map[string]int{"blocked": n})
}
