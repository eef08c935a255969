//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/wire"
)

// handleSessionWS serves a session over one WebSocket: commands in (one
// JSON command or an array per text message), frames of lines out.
func (h *Handler) handleSessionWS(w http.ResponseWriter, r *http.Request) {
	cmds, hb, ok := streamParams(w, r)
	if !ok {
		return
	}
	ident, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	ws, release, ok := httpx.AcceptIdleWS(w, r, h.origins, h.cfg.Streams.Acquire, h.keepalive, h.cfg.StreamWriteTimeout)
	if !ok {
		return
	}
	c := ws.Conn
	c.SetReadLimit(h.cfg.WSReadLimit)
	// Everything deep (the hello, the first subscriptions) runs here, in
	// net/http's goroutine, which ends with the handler; the connection
	// is then held by Serve's one goroutine, parked in a shallow frame
	// between messages (httpx.IdleWS).
	// The session keeps nothing of the request (its context chain is
	// net/http's per-connection state): it ends with the Handler, and
	// its commands are authorized with ident alone.
	s := h.newSession(context.Background(), ident, r.URL.Query().Get("key"))
	write := func(b []byte) error {
		if n := len(b); n > 0 && b[n-1] == '\n' {
			b = b[:n-1] // the last line of a message needs no newline
		}
		return ws.Write(websocket.MessageText, b)
	}
	if err := write(s.hello(false, hb)); err != nil {
		c.CloseNow()
		s.close()
		release()
		return
	}
	// From here the goroutine that queues lines while nobody writes
	// writes them (session.flushLocked), and timers send the heartbeat
	// and the pings: the connection's goroutine only reads commands.
	end := func() { // the session's context ended
		switch {
		case h.ctx.Err() != nil:
			ws.Close(websocket.StatusGoingAway, "server shutting down")
		case !ident.Expires.IsZero() && !time.Now().Before(ident.Expires):
			ws.Close(CloseTokenExpired, "token expired")
		default:
			c.CloseNow()
		}
	}
	s.mu.Lock()
	s.direct = write
	s.onEnd = end
	ended := s.closed
	s.mu.Unlock()
	if ended {
		end()
	}
	beat := s.heartbeat(max(hb, 100*time.Millisecond))
	for _, cmd := range cmds {
		s.exec(cmd)
	}
	ws.Serve(func(typ websocket.MessageType, data []byte) error {
		if typ != websocket.MessageText {
			ws.Close(websocket.StatusUnsupportedData, "commands are JSON text messages")
			return errors.New("realtime: a binary message on a session")
		}
		if !utf8.Valid(data) { // RFC 6455 8.1: fail the connection
			ws.Close(websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in a text message")
			return errors.New("realtime: invalid UTF-8 in a text message on a session")
		}
		cs, err := parseCommands(data)
		switch {
		case err != nil:
			s.frame(wire.Frame{Op: wire.OpError, Code: wire.CodeBad, Error: "commands: want a JSON command or an array of them: " + err.Error()})
			return nil
		case len(cs) > maxCommands:
			s.frame(wire.Frame{Op: wire.OpError, Code: wire.CodeTooMany, Error: "at most " + strconv.Itoa(maxCommands) + " commands per message"})
			return nil
		}
		for _, cmd := range cs {
			s.exec(cmd)
		}
		return nil
	}, func(error) {
		s.mu.Lock()
		s.onEnd = nil // the connection is closed already
		s.mu.Unlock()
		beat.Stop()
		s.close()
		release()
	})
}
