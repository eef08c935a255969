//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Close codes of the WebSocket transport (browser-valid 4000 + the RFC
// code where one fits).
const (
	// CloseSubscribeFailed: the broker refused the subscription.
	CloseSubscribeFailed websocket.StatusCode = 4008
	// CloseUnavailable: the broker became unreachable; resubscribe later.
	CloseUnavailable websocket.StatusCode = 4503
	// CloseTokenExpired: the connection's token expired; reconnect with a
	// fresh one.
	CloseTokenExpired websocket.StatusCode = 4401
)

// handleWS serves one topic over WebSocket: ?topic=T&cursor=E-N&heartbeat=MS.
// The first envelope is "_open" (the cursor the connection starts after),
// then every message after the cursor; "_ping" (the topic's head) after
// heartbeat ms of quiet (default 15000, 100 to 60000); a "_gap" envelope,
// then close 1000 "gap", when the history after the cursor is gone.
// Client messages are ignored.
func (h *Handler) handleWS(w http.ResponseWriter, r *http.Request) {
	p, ok := parseFeed(w, r, false)
	if !ok {
		return
	}
	hb := p.heartbeat
	if hb == 0 {
		hb = 15 * time.Second
	}
	hb = max(hb, 100*time.Millisecond)
	id, ok := h.admit(w, r, p.topic)
	if !ok {
		return
	}
	c, release, ok := httpx.AcceptWSSlot(w, r, h.origins, h.cfg.Streams.Acquire, nil)
	if !ok {
		return
	}
	c.SetReadLimit(h.cfg.WSReadLimit)
	h.keepalive.GoServeWS(h.ctx, r, c, release, func(ctx context.Context) error {
		ctx = c.CloseRead(ctx) // discards client messages, processes pongs
		stop := context.AfterFunc(h.ctx, func() { c.Close(websocket.StatusGoingAway, "server shutting down") })
		defer stop()
		ctx, cancel := untilExpiry(ctx, id)
		defer cancel()
		defer closeAtExpiry(ctx, c, id)()
		ww := httpx.NewWSWriter(c, h.cfg.StreamWriteTimeout) // one timer, not a context per write
		defer ww.Stop()
		send := func(m wire.Message) error {
			return ww.Write(websocket.MessageText, h.frames.frame(m, frameJSON, envelopeJSON))
		}
		sendGap := func(gap *broker.GapError) error {
			if err := send(gap.Envelope()); err != nil {
				return err
			}
			c.Close(websocket.StatusNormalClosure, "gap")
			return gap
		}
		sub, err := h.subscribe(ctx, p.topic, p.cursor)
		var gap *broker.GapError
		if errors.As(err, &gap) {
			return sendGap(gap)
		}
		if err != nil {
			c.Close(CloseSubscribeFailed, "subscribe failed")
			return err
		}
		defer sub.Close()
		wt := newWaiter(ctx, sub, hb)
		defer wt.stop()
		if err := send(wire.Control(p.topic, wire.TypeOpen, sub.Start())); err != nil {
			return err
		}
		fault, faulty := h.faults.next(p.topic)
		sent := 0
		for {
			if faulty && sent >= fault.After {
				h.faults.done(p.topic, fault)
				if !fault.Stall {
					c.CloseNow()
					return errors.New("ws: fault: cut")
				}
				<-ctx.Done()
				return ctx.Err()
			}
			msgs, err := wt.next()
			switch {
			case errors.As(err, &gap):
				return sendGap(gap)
			case errors.Is(err, broker.ErrUnavailable):
				c.Close(CloseUnavailable, "broker unavailable")
				return err
			case err != nil:
				return err
			case msgs == nil:
				head, err := h.broker.Head(ctx, p.topic)
				if err != nil {
					return err
				}
				if err := send(wire.Control(p.topic, wire.TypePing, head)); err != nil {
					return err
				}
				continue
			}
			for _, m := range msgs {
				if faulty && sent >= fault.After {
					break
				}
				if err := send(m); err != nil {
					return err
				}
				sent++
			}
		}
	})
}
