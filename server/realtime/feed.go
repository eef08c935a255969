//go:build !js

package realtime

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// feedParams are the query parameters every subscribing endpoint reads.
type feedParams struct {
	topic     string
	cursor    wire.Cursor
	heartbeat time.Duration // 0: not asked for
	max       int           // max=N: at most N messages per batch (polls); 0: the broker's limit
	flush     bool          // flush=1 (SSE): a wire.SSEFlush event after a write of several messages
}

// parseFeed reads topic= and cursor= (and lastEventId= / Last-Event-ID
// for SSE). On failure it has answered 400.
func parseFeed(w http.ResponseWriter, r *http.Request, sse bool) (feedParams, bool) {
	q := r.URL.Query()
	p := feedParams{topic: q.Get("topic")}
	if !wire.ValidTopic(p.topic) {
		httpx.WriteError(w, http.StatusBadRequest, "topic: want 1-128 of A-Z a-z 0-9 . _ - : /")
		return p, false
	}
	text := q.Get("cursor")
	if sse {
		if v := q.Get("lastEventId"); v != "" {
			text = v
		}
		if v := r.Header.Get("Last-Event-ID"); v != "" {
			text = v
		}
	}
	c, err := wire.ParseCursor(text)
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, "cursor: want EPOCH-OFFSET, got "+strconv.Quote(text))
		return p, false
	}
	p.cursor = c
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			httpx.WriteError(w, http.StatusBadRequest, "max: want 1 to 10000")
			return p, false
		}
		p.max = n
	}
	if q.Has("heartbeat") {
		d, ok := httpx.MillisParam(w, q, "heartbeat", 15*time.Second, 50*time.Millisecond, time.Minute)
		if !ok {
			return p, false
		}
		p.heartbeat = d
	}
	if sse {
		var ok bool
		if p.flush, ok = flushParam(w, q); !ok {
			return p, false
		}
	}
	return p, true
}

// streamer is what pump needs from one streaming transport (SSE, HTTP
// streaming): how to frame an envelope and a heartbeat.
type streamer struct {
	frame func(m wire.Message) []byte
	ping  func(head wire.Cursor) []byte
	// preamble is written before the first frame (SSE: the retry field).
	preamble []byte
	// holdOnGap keeps the response open after a "_gap" (SSE: so the
	// browser does not reconnect into the same gap).
	holdOnGap bool
	// flush, when set, is written after a batch of several messages
	// (SSE with flush=1: a wire.SSEFlush event).
	flush []byte
}

// waiter waits for the messages of one subscription with a heartbeat:
// next returns (nil, nil) once hb passed with no message and no
// heartbeat. It keeps one deadline context for a heartbeat period, not
// one per wait: a context and its timer per delivery were ~10% of the
// server's CPU in a fan-out.
type waiter struct {
	ctx    context.Context
	sub    broker.Subscription
	hb     time.Duration
	last   time.Time // of the last message or heartbeat
	wctx   context.Context
	cancel context.CancelFunc
}

func newWaiter(ctx context.Context, sub broker.Subscription, hb time.Duration) *waiter {
	return &waiter{ctx: ctx, sub: sub, hb: hb, last: time.Now()}
}

// next waits for messages of the subscription; (nil, nil) means a
// heartbeat is due.
func (w *waiter) next() ([]wire.Message, error) {
	for {
		if w.wctx == nil {
			w.wctx, w.cancel = context.WithDeadline(w.ctx, w.last.Add(w.hb))
		}
		ms, err := w.sub.Next(w.wctx)
		if err == nil {
			w.last = time.Now()
			return ms, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) || w.ctx.Err() != nil {
			return ms, err
		}
		w.cancel()
		w.wctx = nil
		if now := time.Now(); now.Sub(w.last) >= w.hb {
			w.last = now
			return nil, nil
		}
		// A message came since the deadline was set: wait out the rest.
	}
}

// stop releases the deadline context.
func (w *waiter) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// feedOut is where pump writes: net/http's response, or a hijacked
// connection (httpx.Stream).
type feedOut struct {
	// write writes b at once; false when the client is gone.
	write func(b []byte) bool
	// tear writes b (a torn frame) and drops the connection.
	tear func(b []byte)
}

// errClientGone: a write of a stream found its client gone.
var errClientGone = errors.New("realtime: the client is gone")

// ok is the error of a write that reported written.
func (feedOut) ok(written bool) error {
	if !written {
		return errClientGone
	}
	return nil
}

// callbackFeed follows one topic for a single-topic stream or WebSocket
// in the broker's callbacks: drain runs when the subscription has
// something (the memory broker's TryNext) and a timer sends the
// heartbeat, so no goroutine waits between messages. Other brokers, and
// planned test faults, are followed by a goroutine (feed, followWS).
type callbackFeed struct {
	h     *Handler
	ctx   context.Context
	topic string
	sub   broker.Subscription
	tn    tryNexter
	hb    time.Duration
	send  func(wire.Message) error
	batch func([]wire.Message) error // if set, sends a batch instead of send per message
	ping  func(head wire.Cursor) error
	end   func(error) // once, with why it ended (a *broker.GapError when the history is gone)
	ready func()      // drain, as the broker's callback (one func value, not one per arming)

	mu   sync.Mutex // one drain or heartbeat at a time; guards the rest
	beat *time.Timer
	last time.Time // of the last message or heartbeat sent
	done bool
}

// startCallbackFeed sends what f's subscription already has, in the
// caller's goroutine, and arms the callback and the heartbeat.
func startCallbackFeed(f *callbackFeed) {
	f.ready = f.drain
	f.mu.Lock()
	f.last = time.Now()
	f.beat = time.AfterFunc(f.hb, f.heartbeat)
	f.mu.Unlock()
	f.drain()
}

// drain sends every message the subscription has, then arms its callback.
func (f *callbackFeed) drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.done {
		ms, err := f.tn.TryNext(f.ready)
		if ms == nil && err == nil {
			return // armed
		}
		switch {
		case err != nil: // a gap or a failure (TryNext returns no messages with it)
		case f.batch != nil:
			err = f.batch(ms)
		default:
			for _, m := range ms {
				if err = f.send(m); err != nil {
					break
				}
			}
		}
		if err != nil {
			f.finish(err)
			return
		}
		f.last = time.Now()
	}
}

// heartbeat sends a ping once hb passed with nothing sent.
func (f *callbackFeed) heartbeat() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return
	}
	if wait := f.hb - time.Since(f.last); wait > 0 {
		f.beat.Reset(wait) // a message went out since: wait out the rest
		return
	}
	head, err := f.h.broker.Head(f.ctx, f.topic)
	if err == nil {
		err = f.ping(head)
	}
	if err != nil {
		f.finish(err)
		return
	}
	f.last = time.Now()
	f.beat.Reset(f.hb)
}

// finish ends the feed once; f.mu is held.
func (f *callbackFeed) finish(err error) {
	f.done = true
	f.beat.Stop()
	f.sub.Close()
	f.end(err)
}

// pump sends the envelopes of p.topic after p.cursor as frames of st: an
// "_open" first, then every message, heartbeats every hb, until the
// client leaves, id expires or the server closes. It applies planned
// test faults, and calls release (the stream's slot) once the stream
// ended. Over HTTP/1.1 the stream goes on after the handler returned,
// on the hijacked connection (httpx.HijackStream): net/http's
// goroutine, buffers and background read are gone, one goroutine,
// parked in a shallow frame, notices the client leave, and the topic is
// followed in the memory broker's callbacks (callbackFeed), or by a
// goroutine of its own on other brokers.
func (h *Handler) pump(w http.ResponseWriter, r *http.Request, id Identity, release func(), p feedParams, st streamer, hb time.Duration) {
	shrinkSendBuffer(r.Context(), h.cfg.StreamSendBuffer)
	// r's context ends with the handler, which a hijacked stream
	// outlives; its values stay.
	ctx, cancel := untilExpiry(context.WithoutCancel(r.Context()), id)
	stop := context.AfterFunc(h.ctx, cancel)
	end := func() { stop(); cancel(); release() }
	sub, err := h.subscribe(ctx, p.topic, p.cursor)
	var gap *broker.GapError
	if err != nil && !errors.As(err, &gap) {
		writeBrokerError(w, err)
		end()
		return
	}
	if hs, herr := httpx.HijackStream(w, r, h.cfg.StreamWriteTimeout); herr == nil {
		chunk := func(b []byte) error {
			return hs.WriteChunk(append(make([]byte, httpx.ChunkHead, httpx.ChunkHead+len(b)+2), b...))
		}
		out := feedOut{
			write: func(b []byte) bool { return chunk(b) == nil },
			tear: func(b []byte) {
				chunk(b)
				hs.Abort()
			},
		}
		go func() {
			if hs.WaitGone(ctx) {
				cancel()
			}
		}()
		done := func() {
			if sub != nil {
				sub.Close()
			}
			cancel() // ends WaitGone
			hs.Close()
			end()
		}
		fault, faulty := h.faults.next(p.topic)
		if tn, ok := tryNext(sub); ok && !faulty {
			if !out.write(append(st.preamble, st.frame(wire.Control(p.topic, wire.TypeOpen, sub.Start()))...)) {
				done()
				return
			}
			startCallbackFeed(&callbackFeed{h: h, ctx: ctx, topic: p.topic, sub: sub, tn: tn, hb: hb,
				batch: func(ms []wire.Message) error { return out.ok(st.writeBatch(out, ms)) },
				ping:  func(head wire.Cursor) error { return out.ok(out.write(st.ping(head))) },
				end: func(err error) {
					var gap *broker.GapError
					if errors.As(err, &gap) && out.write(st.frame(gap.Envelope())) && st.holdOnGap {
						go func() { h.idle(ctx, out, st, hb, p.topic); done() }()
						return
					}
					done()
				}})
			return
		}
		go func() {
			h.feed(ctx, out, sub, gap, p, st, hb, fault, faulty)
			done()
		}()
		return
	}
	// HTTP/2, HTTP/1.0: the stream lives in this goroutine.
	defer end()
	if sub != nil {
		defer sub.Close()
	}
	defer context.AfterFunc(r.Context(), cancel)()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // streams outlive any server WriteTimeout
	out := feedOut{
		write: func(b []byte) bool {
			rc.SetWriteDeadline(time.Now().Add(h.cfg.StreamWriteTimeout)) // drop a reader that stopped reading
			if _, err := w.Write(b); err != nil {
				return false
			}
			return rc.Flush() == nil
		},
		tear: func(b []byte) {
			w.Write(b)
			rc.Flush()
			panic(http.ErrAbortHandler)
		},
	}
	w.WriteHeader(http.StatusOK)
	fault, faulty := h.faults.next(p.topic)
	h.feed(ctx, out, sub, gap, p, st, hb, fault, faulty)
}

// feed is pump's loop, on a response whose head is sent with the first
// write: the gap of the subscription (sub nil), or its "_open" and
// messages.
func (h *Handler) feed(ctx context.Context, out feedOut, sub broker.Subscription, gap *broker.GapError, p feedParams, st streamer, hb time.Duration, fault fault, faulty bool) {
	if sub == nil {
		if out.write(append(st.preamble, st.frame(gap.Envelope())...)) && st.holdOnGap {
			h.idle(ctx, out, st, hb, p.topic)
		}
		return
	}
	wt := newWaiter(ctx, sub, hb)
	defer wt.stop()
	if !out.write(append(st.preamble, st.frame(wire.Control(p.topic, wire.TypeOpen, sub.Start()))...)) {
		return
	}
	sent := 0
	for {
		if faulty && fault.Stall && sent >= fault.After {
			h.faults.done(p.topic, fault)
			<-ctx.Done() // silent until the client gives up
			return
		}
		ms, err := wt.next()
		switch {
		case errors.As(err, &gap):
			if out.write(st.frame(gap.Envelope())) && st.holdOnGap {
				h.idle(ctx, out, st, hb, p.topic)
			}
			return
		case err != nil:
			return
		case ms == nil: // heartbeat
			head, err := h.broker.Head(ctx, p.topic)
			if err != nil || !out.write(st.ping(head)) {
				return
			}
			continue
		}
		if !faulty {
			if !st.writeBatch(out, ms) {
				return
			}
			continue
		}
		for _, m := range ms { // one write per message: a fault counts them
			b := st.frame(m)
			if !fault.Stall && sent >= fault.After {
				h.faults.done(p.topic, fault)
				out.tear(b[:len(b)/2]) // a torn frame, then a dead connection
				return
			}
			if !out.write(b) {
				return
			}
			sent++
		}
	}
}

// maxBatchWrite bounds the bytes of one write of a batch of messages (a
// frame that is larger goes alone).
const maxBatchWrite = 32 << 10

// writeBatch writes the frames of ms to out, several to a write, then
// st.flush after a batch of several messages. A lone message is written
// as its frame, with no copy. It reports false when the client is gone.
func (st streamer) writeBatch(out feedOut, ms []wire.Message) bool {
	if len(ms) <= 1 {
		if len(ms) == 0 {
			return true
		}
		return out.write(st.frame(ms[0]))
	}
	var buf []byte
	for _, m := range ms {
		b := st.frame(m)
		if len(buf) > 0 && len(buf)+len(b) > maxBatchWrite {
			if !out.write(buf) {
				return false
			}
			buf = buf[:0]
		}
		buf = append(buf, b...)
	}
	return out.write(append(buf, st.flush...))
}

// idle holds the response open with heartbeats until the client leaves.
func (h *Handler) idle(ctx context.Context, out feedOut, st streamer, hb time.Duration, topic string) {
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			head, err := h.broker.Head(ctx, topic)
			if err != nil || !out.write(st.ping(head)) {
				return
			}
		}
	}
}
