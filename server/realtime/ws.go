//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
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
// A client message closes the connection with 1008.
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
	ws, release, ok := httpx.AcceptIdleWS(w, r, h.origins, h.cfg.Streams.Acquire, h.keepalive, h.cfg.StreamWriteTimeout)
	if !ok {
		return
	}
	c := ws.Conn
	c.SetReadLimit(h.cfg.WSReadLimit)
	// The subscription and the first frames happen here, in net/http's
	// goroutine; then the topic is followed in the memory broker's
	// callbacks (callbackFeed), or by a goroutine on other brokers, and
	// the reading is httpx.IdleWS's (a client message closes with 1008,
	// pongs are taken), parked in a shallow frame. The slot is released
	// when both are done.
	ctx, cancel := untilExpiry(context.Background(), id) // nothing of the request is kept
	var left atomic.Int32
	left.Store(2)
	leave := func() {
		if left.Add(-1) == 0 {
			release()
		}
	}
	stop := context.AfterFunc(h.ctx, func() {
		ws.Close(websocket.StatusGoingAway, "server shutting down")
		cancel()
	})
	send := func(m wire.Message) error {
		return ws.Write(websocket.MessageText, h.frames.frame(m, frameJSON, envelopeJSON))
	}
	end := func(err error) { // the loop's end: close as asked, or at once
		stop()
		switch {
		case h.ctx.Err() != nil: // Close may end the broker before stop's AfterFunc ran
			ws.Close(websocket.StatusGoingAway, "server shutting down")
		case ctx.Err() != nil && !id.Expires.IsZero() && !time.Now().Before(id.Expires):
			ws.Close(CloseTokenExpired, "token expired")
		}
		ws.End()
		cancel()
		leave()
	}
	sendGap := func(gap *broker.GapError) error {
		if err := send(gap.Envelope()); err != nil {
			return err
		}
		ws.Close(websocket.StatusNormalClosure, "gap")
		return gap
	}
	sub, err := h.subscribe(ctx, p.topic, p.cursor)
	var gap *broker.GapError
	switch {
	case errors.As(err, &gap):
		sendGap(gap)
	case err != nil:
		ws.Close(CloseSubscribeFailed, "subscribe failed")
	default:
		err = send(wire.Control(p.topic, wire.TypeOpen, sub.Start()))
	}
	ws.Serve(func(websocket.MessageType, []byte) error {
		ws.Close(websocket.StatusPolicyViolation, "unexpected data message")
		return errors.New("realtime: a client message on a one-topic WebSocket")
	}, func(error) {
		cancel() // the client left: the loop ends
		leave()
	})
	if err != nil {
		if sub != nil {
			sub.Close()
		}
		end(err)
		return
	}
	fault, faulty := h.faults.next(p.topic)
	if tn, ok := tryNext(sub); ok && !faulty {
		startCallbackFeed(&callbackFeed{h: h, ctx: ctx, topic: p.topic, sub: sub, tn: tn, hb: hb, send: send,
			ping: func(head wire.Cursor) error { return send(wire.Control(p.topic, wire.TypePing, head)) },
			end:  func(err error) { end(followEnd(ws, err, sendGap)) }})
		return
	}
	go func() {
		defer sub.Close()
		end(h.followWS(ctx, p, ws, sub, hb, fault, faulty, send, sendGap))
	}()
}

// followEnd is what ends a single-topic WebSocket's follow on err: a gap
// is sent (then close 1000 "gap"), the broker's loss closes with 4503.
func followEnd(ws *httpx.IdleWS, err error, sendGap func(*broker.GapError) error) error {
	var gap *broker.GapError
	switch {
	case errors.As(err, &gap):
		return sendGap(gap)
	case errors.Is(err, broker.ErrUnavailable):
		ws.Close(CloseUnavailable, "broker unavailable")
	}
	return err
}

// followWS sends the messages of sub to ws until ctx ends or a send fails
// (a goroutine per connection: a broker without TryNext, or a planned
// test fault).
func (h *Handler) followWS(ctx context.Context, p feedParams, ws *httpx.IdleWS, sub broker.Subscription, hb time.Duration, fault fault, faulty bool, send func(wire.Message) error, sendGap func(*broker.GapError) error) error {
	wt := newWaiter(ctx, sub, hb)
	defer wt.stop()
	sent := 0
	for {
		if faulty && sent >= fault.After {
			h.faults.done(p.topic, fault)
			if !fault.Stall {
				ws.Conn.CloseNow()
				return errors.New("ws: fault: cut")
			}
			<-ctx.Done()
			return ctx.Err()
		}
		msgs, err := wt.next()
		switch {
		case err != nil:
			return followEnd(ws, err, sendGap)
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
}
