//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

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
	c, release, ok := httpx.AcceptWSSlot(w, r, h.origins, h.cfg.Streams.Acquire, nil)
	if !ok {
		return
	}
	c.SetReadLimit(h.cfg.WSReadLimit)
	h.keepalive.GoServeWS(h.ctx, r, c, release, func(ctx context.Context) error {
		s := h.newSession(ctx, ident)
		defer s.close()
		defer closeAtExpiry(s.ctx, c, ident)()
		ww := httpx.NewWSWriter(c, h.cfg.StreamWriteTimeout)
		defer ww.Stop()
		write := func(b []byte) error {
			if n := len(b); n > 0 && b[n-1] == '\n' {
				b = b[:n-1] // the last line of a message needs no newline
			}
			return ww.Write(websocket.MessageText, b)
		}
		if err := write(s.hello(false, hb)); err != nil {
			return err
		}
		// From here the goroutine that queues lines while nobody writes
		// writes them (session.flushLocked), and a timer sends the pings:
		// this goroutine only reads commands.
		s.mu.Lock()
		s.direct = write
		s.mu.Unlock()
		defer s.heartbeat(max(hb, 100*time.Millisecond)).Stop()
		for _, cmd := range cmds {
			s.exec(cmd)
		}
		for {
			typ, data, err := c.Read(s.ctx)
			if err != nil {
				return err
			}
			if typ != websocket.MessageText {
				c.Close(websocket.StatusUnsupportedData, "commands are JSON text messages")
				return errors.New("realtime: a binary message on a session")
			}
			cs, err := parseCommands(data)
			switch {
			case err != nil:
				s.frame(wire.Frame{Op: wire.OpError, Code: wire.CodeBad, Error: "commands: want a JSON command or an array of them: " + err.Error()})
				continue
			case len(cs) > maxCommands:
				s.frame(wire.Frame{Op: wire.OpError, Code: wire.CodeTooMany, Error: "at most " + strconv.Itoa(maxCommands) + " commands per message"})
				continue
			}
			for _, cmd := range cs {
				s.exec(cmd)
			}
		}
	})
}
