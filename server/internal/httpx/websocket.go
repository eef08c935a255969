//go:build !js

package httpx

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Keepalive is the WebSocket heartbeat: a ping every PingInterval; a peer
// that does not answer within PingTimeout is dropped.
type Keepalive struct {
	PingInterval, PingTimeout time.Duration
	Logf                      func(format string, args ...any)
}

// AcceptWS checks r's Origin against p (a request without Origin passes;
// the server's own pages are trusted as configured origins, never because
// Origin equals Host) and upgrades. On failure it has answered (403 JSON, or 400 from Accept) and
// ok is false.
func AcceptWS(w http.ResponseWriter, r *http.Request, p *Origins, opts *websocket.AcceptOptions) (c *websocket.Conn, ok bool) {
	if origin := r.Header.Get("Origin"); !p.Trusted(r) {
		WriteError(w, http.StatusForbidden, "websocket: origin "+strconv.Quote(origin)+" is not allowed")
		return nil, false
	}
	if opts == nil {
		opts = &websocket.AcceptOptions{}
	}
	opts.OriginPatterns = p.WSPatterns()
	c, err := websocket.Accept(closeReasonCheck{w, nil}, r, opts)
	if err != nil {
		return nil, false
	}
	return c, true
}

// AcceptWSSlot is AcceptWS for a long-lived connection: it refuses an
// untrusted Origin with 403 before anything is taken, then takes a slot
// with acquire (which answers 503 when none is free), then upgrades. On
// success the caller must call release once the connection is done.
func AcceptWSSlot(w http.ResponseWriter, r *http.Request, p *Origins, acquire func(http.ResponseWriter, *http.Request) (func(), bool), opts *websocket.AcceptOptions) (c *websocket.Conn, release func(), ok bool) {
	if !p.Trusted(r) {
		AcceptWS(w, r, p, opts) // answers 403
		return nil, nil, false
	}
	if release, ok = acquire(w, r); !ok {
		return nil, nil, false
	}
	if c, ok = AcceptWS(w, r, p, opts); !ok {
		release()
		return nil, nil, false
	}
	return c, release, true
}

// heartbeat pings c every PingInterval until stop is called, from a
// timer re-armed after each pong rather than a goroutine per connection;
// a peer that does not answer within PingTimeout is closed. stop waits
// for a ping in flight.
func (k Keepalive) heartbeat(ctx context.Context, c *websocket.Conn) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		pinging sync.WaitGroup
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(k.PingInterval, func() {
		mu.Lock()
		if stopped {
			mu.Unlock()
			return
		}
		pinging.Add(1)
		mu.Unlock()
		defer pinging.Done()
		pctx, cancel := context.WithTimeout(ctx, k.PingTimeout)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && k.Logf != nil { // not a connection closed meanwhile
				k.Logf("ws: dropping a dead peer: %v", err)
			}
			c.CloseNow()
			return
		}
		mu.Lock()
		if !stopped {
			t.Reset(k.PingInterval)
		}
		mu.Unlock()
	})
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		pinging.Wait()
	}
}

// ServeWS runs loop on an accepted connection together with the heartbeat,
// and returns once both are done. When shutdown has ended the connection
// closes with 1001; when loop ended without a close status, at once.
func (k Keepalive) ServeWS(shutdown context.Context, r *http.Request, c *websocket.Conn, loop func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(r.Context())
	stop := k.heartbeat(ctx, c)
	err := loop(ctx)
	cancel()
	stop()
	switch {
	case shutdown.Err() != nil:
		c.Close(websocket.StatusGoingAway, "server shutting down")
	case websocket.CloseStatus(err) == -1:
		c.CloseNow()
	}
	return err
}

// ErrWriteTimeout is returned by IdleWS.Write for a write that did not
// finish within its deadline (the connection is closed).
var ErrWriteTimeout = errors.New("httpx: websocket write timed out")
