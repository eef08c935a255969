//go:build !js

package realtime

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// A session carries many topics over one connection (the wire package doc,
// "Sessions"). Its subscriptions follow the broker (drain, with memory's
// callbacks; follow, a goroutine each, otherwise) and append lines to the
// session's queue; the transport's writer takes what is queued as frames
// of at most maxFrame bytes (WebSocket: whoever queues while nobody
// writes is the writer, flushLocked). The queue is bounded
// (Config.SessionQueue): a subscription waits while it is full, so a slow
// reader holds at most that much, falls behind the broker's history, and
// gets a "gap" frame rather than unbounded memory or a silent loss.

// Internal topic prefixes: the commands of a one-way session, and the
// presence events of a topic. Clients may not subscribe or publish to
// topics starting with "_".
const (
	sessionTopicPrefix  = "_s:"
	presenceTopicPrefix = "_p:"
)

// internalTopic reports whether topic is reserved for the server.
func internalTopic(topic string) bool { return strings.HasPrefix(topic, "_") }

// session is the server side of one client session.
type session struct {
	h      *Handler
	ident  Identity    // who the connection authenticated as
	id     string      // the capability: commands are POSTed with it
	member wire.Member // the public identity in presence
	key    string      // an anonymous member's secret (hello "key"; key= on a connection or poll keeps the member)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutines of subscriptions

	mu    sync.Mutex
	space *sync.Cond // signalled when the queue shrinks or the session ends
	buf   []byte     // lines not yet written
	wake  chan struct{}
	// direct, when set, writes frames (WebSocket): the goroutine that
	// queues lines while nobody is writing writes them itself (flush),
	// so no goroutine waits for an idle connection's next message.
	direct   func([]byte) error
	mark     func() error // written after a burst of several frames (SSE with flush=1); nil: none
	writing  bool         // a goroutine is in flush
	taken    int          // bytes taken into frames so far (takeLocked)
	lastSend time.Time    // of the last frame written by flush
	beat     *time.Timer  // heartbeat (the direct writer's)
	// refresh re-joins the presence of the session's topics (presence.go)
	refresh    *time.Timer
	refreshing sync.WaitGroup
	// onEnd, when set, is called once the session's context ends (the
	// WebSocket's close), so the transport needs no AfterFunc of its own.
	onEnd  func()
	drains sync.WaitGroup // subscriptions' callbacks running (drain)
	subs   map[int]*ssub
	joined map[string]int // topic → subscriptions with presence (presence.go); nil until the first join
	closed bool

	// inbox receives the POSTed commands of a one-way session
	// (session_http.go); refused counts those a full inbox refused.
	inbox   []inboxItem // at most sessionInbox; s.mu guards it
	refused int
	// replyNow: the commands run in the writer's goroutine (see reply).
	replyNow bool

	// command rate (a token bucket); used by the one goroutine executing
	// commands at a time.
	tokens float64
	last   time.Time
}

// ssub is one live subscription of a session.
type ssub struct {
	t        int
	topic    string
	presence bool
	joined   bool // set by its goroutine once it joined the presence
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once           // of finish
	sub      broker.Subscription // set when it runs in callbacks (drain)
}

func randomID() string {
	var b [16]byte
	crand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validSessionID reports whether id can be a session id (22 base64url).
func validSessionID(id string) bool {
	if len(id) != 22 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newSession starts a session of ident that ends with parent, the
// Handler, or when ident expires. The member's User is ident.User, or its
// public id for an anonymous client.
func (h *Handler) newSession(parent context.Context, ident Identity, key string) *session {
	s := &session{h: h, ident: ident, id: randomID(), wake: make(chan struct{}, 1), subs: map[int]*ssub{},
		tokens: float64(h.cfg.SessionBurst), last: time.Now()}
	if !validSessionID(key) {
		key = randomID()
	}
	s.key, s.member = key, anonMember(key) // session_pollpres.go
	if ident.User != "" {
		s.key = ""
		// One presence entry per user: all the user's sessions are one member.
		s.member = wire.Member{Client: "u." + ident.User, User: ident.User}
	}
	s.space = sync.NewCond(&s.mu)
	var stop func() bool
	if parent.Done() == nil { // a parent that never ends (WebSocket): the Handler's context is the one
		s.ctx, s.cancel = untilExpiry(valuesOf{h.ctx, parent}, ident)
	} else {
		s.ctx, s.cancel = untilExpiry(parent, ident)
		stop = context.AfterFunc(h.ctx, s.cancel)
	}
	context.AfterFunc(s.ctx, func() {
		if stop != nil {
			stop()
		}
		s.mu.Lock()
		s.closed = true
		s.space.Broadcast()
		end := s.onEnd
		s.mu.Unlock()
		if end != nil {
			end()
		}
	})
	h.sessions.Add(1)
	return s
}

// valuesOf is a context that ends with its Context (the Handler's) and
// has the values of vals besides (a request's, without its end): a
// session derived from it is a child of the Handler's context, so no
// AfterFunc per session is needed to end it with the Handler.
type valuesOf struct {
	context.Context
	vals context.Context
}

func (c valuesOf) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.vals.Value(key)
}

// close ends the session: its subscriptions stop and its presence leaves.
func (s *session) close() {
	s.cancel()
	s.mu.Lock()
	s.closed = true // no goroutine starts after this
	s.space.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	s.refreshing.Wait() // s.closed stops the timer's re-arming
	s.drains.Wait()     // and the start of drains
	s.mu.Lock()
	if s.refresh != nil {
		s.refresh.Stop()
	}
	subs := s.subs
	for _, ss := range subs {
		if ss.sub != nil {
			ss.sub.Close() // at once: its callback finishes ss later
		}
	}
	s.subs = map[int]*ssub{}
	s.mu.Unlock()
	for _, ss := range subs {
		if ss.joined {
			s.leave(ss.topic)
		}
	}
	s.h.sessions.Add(-1)
}

// enqueue appends b to the queue, waiting while it is full. It returns
// false when ctx or the session ended.
func (s *session) enqueue(ctx context.Context, b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.roomLocked(ctx, len(b)) {
		return false
	}
	s.buf = append(s.buf, b...)
	s.sendLocked()
	return true
}

// enqueueLines queues the lines of ms for ss, each formatted straight into
// the queue once there is room for it: a subscription holds no buffer of
// its own while the queue is full, so a session that does not read holds
// about Config.SessionQueue bytes however many topics it follows. It
// returns false when ctx or the session ended.
func (s *session) enqueueLines(ctx context.Context, ss *ssub, ms []wire.Message) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		if !s.roomLocked(ctx, len(m.Data)+len(m.Type)+8) {
			return false
		}
		s.buf = wire.AppendMessage(s.buf, ss.t, m.Type, m.Data)
	}
	s.sendLocked()
	return true
}

// roomLocked waits until n more bytes fit the queue (an empty queue takes
// anything), having what is queued sent meanwhile; false when ctx or the
// session ended.
func (s *session) roomLocked(ctx context.Context, n int) bool {
	for len(s.buf) > 0 && len(s.buf)+n > s.h.cfg.SessionQueue && !s.closed && ctx.Err() == nil {
		s.sendLocked()
		if len(s.buf) > 0 && len(s.buf)+n > s.h.cfg.SessionQueue && !s.closed {
			s.space.Wait()
		}
	}
	return !s.closed && ctx.Err() == nil
}

// sendLocked has the queue sent: written at once through s.direct when
// nobody is writing, else the writer woken.
func (s *session) sendLocked() {
	if s.direct != nil {
		if !s.writing {
			s.flushLocked()
		}
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flushLocked writes the queue through s.direct, a frame at a time,
// until it is empty, then s.mark if that took several frames; s.mu is
// held, and released while writing. A failed write ends the session.
func (s *session) flushLocked() {
	s.writing = true
	frames := 0
	for {
		f := s.takeLocked(0)
		mark := len(f) == 0 && frames >= 2 && s.mark != nil // the end of a burst
		if len(f) == 0 && !mark {
			s.writing = false
			return
		}
		s.mu.Unlock()
		var err error
		if mark {
			err, frames = s.mark(), 0
		} else {
			err, frames = s.direct(f), frames+1
		}
		s.mu.Lock()
		s.lastSend = time.Now()
		if err != nil {
			s.writing = false
			s.closed = true
			s.space.Broadcast()
			s.cancel()
			return
		}
		if s.buf == nil && cap(f) <= 4<<10 {
			s.buf = f[:0] // the next lines reuse it
		}
	}
}

func (s *session) frame(f wire.Frame) { s.enqueue(s.ctx, wire.AppendFrame(nil, f)) }

// reply queues the answer of a command. When the commands run in the
// writer's goroutine (replyNow: one-way sessions) it does not wait for
// queue space, which only that goroutine frees; the command rate and
// the inbox bound what it adds beyond the queue's bound.
func (s *session) reply(f wire.Frame) {
	if !s.replyNow {
		s.frame(f)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.buf = wire.AppendFrame(s.buf, f)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maxFrame bounds the bytes of one frame (WebSocket message, SSE event,
// stream write) of a session; only a single line over it makes a larger
// frame. A connection's first frame holds at most firstFrame bytes, and
// each next one at most what the connection carried before it
// (takeLocked): a path that cuts connections after a few KiB, as
// some proxies and flaky networks do, still passes the first frames of a
// replay whole, and a cut loses at most about half of what was sent,
// rather than one large frame on every try.
const (
	maxFrame   = 32<<10 - 16
	firstFrame = 2 << 10
)

// takeFrame returns the queued lines that fit the next frame when each
// line costs perLine bytes beyond itself (nil if none) and removes them
// from the queue.
func (s *session) takeFrame(perLine int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked(perLine)
}

func (s *session) takeLocked(perLine int) []byte {
	b := s.buf
	if len(b) == 0 {
		return nil
	}
	limit := min(max(s.taken, firstFrame), maxFrame)
	n, size := 0, 0 // whole lines up to limit; at least one
	for n < len(b) {
		end := len(b)
		if i := bytes.IndexByte(b[n:], '\n'); i >= 0 {
			end = n + i + 1
		}
		if n > 0 && size+end-n+perLine > limit {
			break
		}
		size += end - n + perLine
		n = end
	}
	if s.taken < maxFrame {
		s.taken += size
	}
	s.space.Broadcast()
	if n < len(b) {
		s.buf = b[n:]
		if cap(b) > 4*maxFrame {
			// a backlog: a frame that waits on a slow reader must not pin
			// the queue's array while appends move the queue to a new one
			return append(make([]byte, 0, n), b[:n]...)
		}
		return b[:n:n]
	}
	s.buf = nil
	return b
}

var pingLine = wire.AppendFrame(nil, wire.Frame{Op: wire.OpPing})

// run writes the queued lines as frames (takeLocked; each line costing
// perLine beyond itself) through write, and a ping frame after hb of
// quiet, until the session ends or a write fails.
func (s *session) run(hb time.Duration, perLine int, write func([]byte) error) error {
	timer := time.NewTimer(hb)
	defer timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-s.wake:
			if s.replyNow {
				s.serveInbox()
			}
			frames := 0
			for ; ; frames++ {
				b := s.takeFrame(perLine)
				if len(b) == 0 {
					break
				}
				if err := write(b); err != nil {
					return err
				}
			}
			if frames >= 2 && s.mark != nil { // the end of a burst
				if err := s.mark(); err != nil {
					return err
				}
			}
		case <-timer.C:
			if err := write(pingLine); err != nil {
				return err
			}
		}
		timer.Reset(hb)
	}
}

// heartbeat queues a ping frame (written at once) when nothing was
// written for hb, until the session ends; it is the direct writer's
// heartbeat, a timer rather than a goroutine. Stop the returned timer.
func (s *session) heartbeat(hb time.Duration) *time.Timer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSend = time.Now()
	s.beat = time.AfterFunc(hb, func() {
		s.mu.Lock()
		quiet := time.Since(s.lastSend)
		s.mu.Unlock()
		if quiet >= hb-hb/16 {
			if !s.enqueue(s.ctx, pingLine) {
				return
			}
			quiet = 0
		}
		s.mu.Lock()
		if !s.closed {
			s.beat.Reset(hb - quiet)
		}
		s.mu.Unlock()
	})
	return s.beat
}

// hello is the first frame of a connection.
func (s *session) hello(withID bool, hb time.Duration) []byte {
	f := wire.Frame{Op: wire.OpHello, Heartbeat: hb.Milliseconds(), Member: &s.member, Key: s.key}
	if withID {
		f.Session = s.id
	}
	return wire.AppendFrame(nil, f)
}

// allow takes one token of the command rate.
func (s *session) allow() bool {
	now := time.Now()
	s.tokens = min(float64(s.h.cfg.SessionBurst), s.tokens+now.Sub(s.last).Seconds()*s.h.cfg.SessionRate)
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func fail(c wire.Command, code, msg string) wire.Frame {
	return wire.Frame{Op: wire.OpError, ID: c.ID, T: c.T, Topic: c.Topic, Code: code, Error: msg}
}

// errCode maps a broker error to a frame code.
func errCode(err error) string {
	switch {
	case errors.Is(err, broker.ErrTooLarge):
		return wire.CodeTooLarge
	case errors.Is(err, broker.ErrTopics), errors.Is(err, broker.ErrMembers):
		return wire.CodeTooMany
	case errors.Is(err, broker.ErrUnavailable), errors.Is(err, broker.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return wire.CodeUnavailable
	default:
		return wire.CodeBad
	}
}

// exec runs one command; its answer goes to the queue (sub's answer comes
// from the subscription's goroutine). Commands of one session run one at
// a time.
func (s *session) exec(c wire.Command) {
	if !s.allow() {
		s.reply(fail(c, wire.CodeTooMany, "over the command rate of the session"))
		return
	}
	switch c.Op {
	case wire.OpSubscribe:
		s.subscribe(c)
	case wire.OpUnsubscribe:
		s.unsubscribe(c)
	case wire.OpPublish:
		s.publish(c)
	case wire.OpPresence:
		s.who(c)
	default:
		s.reply(fail(c, wire.CodeBad, "unknown op "+strconv.Quote(c.Op)))
	}
}

// checkTopic validates a topic a client names; "" means it is fine.
func checkTopic(topic string) (code, msg string) {
	switch {
	case !wire.ValidTopic(topic):
		return wire.CodeBad, "topic: want 1-128 of A-Z a-z 0-9 . _ - : /"
	case internalTopic(topic):
		return wire.CodeForbidden, "topics starting with \"_\" are internal"
	}
	return "", ""
}

func (s *session) subscribe(c wire.Command) {
	if c.T < 1 || c.T > wire.MaxSessionTopics {
		s.reply(fail(c, wire.CodeBad, "t: want 1 to "+strconv.Itoa(wire.MaxSessionTopics)))
		return
	}
	if code, msg := checkTopic(c.Topic); code != "" {
		s.reply(fail(c, code, msg))
		return
	}
	if err := s.h.allowed(s.ctx, s.ident, c.Topic, Subscribe); err != nil {
		s.reply(fail(c, wire.CodeForbidden, err.Error()))
		return
	}
	if c.Presence && len(presenceTopicPrefix)+len(c.Topic) > wire.MaxTopicLen {
		s.reply(fail(c, wire.CodeBad, "presence: the topic name is over "+strconv.Itoa(wire.MaxTopicLen-len(presenceTopicPrefix))+" bytes"))
		return
	}
	if c.Presence && s.h.presence == nil {
		s.reply(fail(c, wire.CodeUnavailable, "presence: the broker does not implement it"))
		return
	}
	var from wire.Cursor
	if c.From != wire.FromOldest {
		var err error
		if from, err = wire.ParseCursor(c.From); err != nil {
			s.reply(fail(c, wire.CodeBad, "from: want \"\", \"oldest\" or EPOCH-OFFSET"))
			return
		}
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return
	case s.subs[c.T] != nil:
		s.mu.Unlock()
		s.reply(fail(c, wire.CodeBad, "t "+strconv.Itoa(c.T)+" is in use: unsubscribe it first"))
		return
	case len(s.subs) >= s.h.cfg.SessionTopics:
		s.mu.Unlock()
		s.reply(fail(c, wire.CodeTooMany, "a session follows at most "+strconv.Itoa(s.h.cfg.SessionTopics)+" topics"))
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &ssub{t: c.T, topic: c.Topic, presence: c.Presence, cancel: cancel, done: make(chan struct{})}
	s.subs[c.T] = ss
	s.wg.Go(func() {
		if s.follow(ctx, ss, c, from) {
			return // it goes on in callbacks (drain), which end it
		}
		ss.finish()
	})
	s.mu.Unlock()
}

// finish marks ss ended: its context is cancelled and done closed, once.
func (ss *ssub) finish() {
	ss.once.Do(func() {
		ss.cancel()
		close(ss.done)
	})
}

// tryNexter is a broker.Subscription that can call back rather than
// block (the memory broker's): see memory's TryNext.
type tryNexter interface {
	TryNext(ready func()) ([]wire.Message, error)
}

// tryNext returns sub's tryNexter, if its broker has one.
func tryNext(sub broker.Subscription) (tryNexter, bool) {
	if cs, ok := sub.(*countedSub); ok {
		sub = cs.Subscription
	}
	tn, ok := sub.(tryNexter)
	return tn, ok
}

// drain queues the lines of every message sub has, then arms sub's
// callback to call it again when there are more, and returns: no
// goroutine waits for the next message of a subscription. On an end
// (unsub, the session's end, a gap, a failure) it finishes ss.
func (s *session) drain(ctx context.Context, ss *ssub, sub broker.Subscription, tn tryNexter) {
	for {
		ms, err := tn.TryNext(func() { s.resume(ctx, ss, sub, tn) })
		if ms == nil && err == nil {
			return // armed
		}
		if err != nil || ctx.Err() != nil {
			s.ended(ctx, ss, err)
			sub.Close()
			ss.finish()
			return
		}
		if !s.enqueueLines(ctx, ss, ms) {
			sub.Close()
			ss.finish()
			return
		}
	}
}

// resume is sub's callback: drain again, unless the session closed.
func (s *session) resume(ctx context.Context, ss *ssub, sub broker.Subscription, tn tryNexter) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sub.Close()
		ss.finish()
		return
	}
	s.drains.Add(1) // close waits for it
	s.mu.Unlock()
	defer s.drains.Done()
	s.drain(ctx, ss, sub, tn)
}

// ended sends what ends a subscription with err: a gap frame, an error
// frame, or nothing when it was unsubscribed or the session ended.
func (s *session) ended(ctx context.Context, ss *ssub, err error) {
	var gap *broker.GapError
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &gap):
		if s.drop(ss) {
			s.frame(wire.Frame{Op: wire.OpGap, T: ss.t, Topic: ss.topic, Gap: &gap.Gap})
		}
	case err != nil:
		if s.drop(ss) {
			s.frame(wire.Frame{Op: wire.OpError, T: ss.t, Topic: ss.topic, Code: wire.CodeUnavailable, Error: err.Error()})
		}
	}
}

// drop frees T of ss (unless an unsub did) and leaves its presence; it
// reports whether ss was still live.
func (s *session) drop(ss *ssub) bool {
	s.mu.Lock()
	live := s.subs[ss.t] == ss
	if live {
		delete(s.subs, ss.t)
	}
	s.mu.Unlock()
	if live && ss.joined {
		s.leave(ss.topic)
	}
	return live
}

// open subscribes to topic from the cursor c, or from its oldest message.
// The subscription ends with ctx, or, on the memory broker, only when it
// is closed: follow, unsubscribe and close close it (Handler.closedOnly).
func (s *session) open(ctx context.Context, topic string, c wire.Command, from wire.Cursor) (broker.Subscription, error) {
	if s.h.closedOnly {
		ctx = context.WithoutCancel(ctx)
	}
	if c.From != wire.FromOldest {
		return s.h.subscribe(ctx, topic, from)
	}
	head, err := s.h.broker.Head(ctx, topic)
	if err != nil {
		return nil, err
	}
	sub, err := s.h.subscribe(ctx, topic, wire.Cursor{Epoch: head.Epoch})
	var gap *broker.GapError
	if errors.As(err, &gap) && gap.Reason == wire.GapEvicted {
		return s.h.subscribe(ctx, topic, gap.Resume)
	}
	return sub, err
}

// follow runs one subscription: the answer of the sub, then the lines of
// every message, until unsub, a gap or a failure. It returns true when
// the subscription went on in callbacks (drain), which finish it.
func (s *session) follow(ctx context.Context, ss *ssub, c wire.Command, from wire.Cursor) bool {
	sub, err := s.open(ctx, ss.topic, c, from)
	var gap *broker.GapError
	switch {
	case ctx.Err() != nil: // unsubscribed (its answer says so) or the session ended
		if sub != nil {
			sub.Close()
		}
		return false
	case errors.As(err, &gap):
		s.drop(ss)
		s.frame(wire.Frame{Op: wire.OpGap, ID: c.ID, T: ss.t, Topic: ss.topic, Gap: &gap.Gap})
		return false
	case err != nil:
		s.drop(ss)
		s.frame(fail(c, errCode(err), err.Error()))
		return false
	}
	keep := false // sub outlives this goroutine (drain)
	defer func() {
		if !keep {
			sub.Close()
		}
	}()
	answer := wire.Frame{Op: wire.OpSubscribe, ID: c.ID, T: ss.t, Topic: ss.topic, Cursor: sub.Start()}
	if ss.presence {
		events, members, err := s.join(ctx, ss.topic)
		if err != nil {
			s.drop(ss)
			s.frame(fail(c, errCode(err), err.Error()))
			return false
		}
		ss.joined = true
		answer.Members = members
		if !s.enqueue(ctx, wire.AppendFrame(nil, answer)) {
			events.Close()
			return false
		}
		s.wg.Go(func() { s.forwardPresence(ctx, ss, events) }) // it owns events
	} else if !s.enqueue(ctx, wire.AppendFrame(nil, answer)) {
		return false
	}
	if tn, ok := tryNext(sub); ok {
		s.mu.Lock()
		ss.sub = sub // from here unsubscribe closes it
		gone := ctx.Err() != nil
		s.mu.Unlock()
		if gone { // unsubscribed before: closed by the deferred Close
			return false
		}
		keep = true
		s.drain(ctx, ss, sub, tn)
		return true
	}
	for {
		ms, err := sub.Next(ctx)
		if err != nil || ctx.Err() != nil {
			s.ended(ctx, ss, err)
			return false
		}
		if !s.enqueueLines(ctx, ss, ms) {
			return false
		}
	}
}

func (s *session) unsubscribe(c wire.Command) {
	s.mu.Lock()
	ss := s.subs[c.T]
	var sub broker.Subscription
	if ss != nil {
		delete(s.subs, c.T)
		ss.cancel()
		sub = ss.sub
		s.space.Broadcast() // wakes it if it waits for queue space
	}
	s.mu.Unlock()
	if ss == nil {
		s.reply(fail(c, wire.CodeBad, "t "+strconv.Itoa(c.T)+" is not subscribed"))
		return
	}
	if sub != nil {
		sub.Close() // its callback, or a drain running, finishes ss
	}
	<-ss.done
	if ss.joined {
		s.leave(ss.topic)
	}
	s.reply(wire.Frame{Op: wire.OpUnsubscribe, ID: c.ID, T: c.T, Topic: ss.topic})
}

func (s *session) publish(c wire.Command) {
	if code, msg := checkTopic(c.Topic); code != "" {
		s.reply(fail(c, code, msg))
		return
	}
	if err := s.h.allowed(s.ctx, s.ident, c.Topic, Publish); err != nil {
		s.reply(fail(c, wire.CodeForbidden, err.Error()))
		return
	}
	if c.Key != "" && !broker.ValidKey(c.Key) {
		s.reply(fail(c, wire.CodeBad, "key: want 1-128 printable ASCII characters"))
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.h.cfg.WriteTimeout)
	defer cancel()
	rec, err := s.h.broker.Publish(ctx, c.Topic, []wire.Draft{{Type: c.Type, Data: s.h.stamp(c.Topic, s.member, c.Data)}}, broker.PublishOptions{IdempotencyKey: c.Key})
	if err != nil {
		s.reply(fail(c, errCode(err), err.Error()))
		return
	}
	s.reply(wire.Frame{Op: wire.OpPublish, ID: c.ID, T: c.T, Topic: c.Topic, Cursor: rec.Cursor, Repeat: rec.Repeat})
}

func (s *session) who(c wire.Command) {
	topic := c.Topic
	if topic == "" {
		s.mu.Lock()
		if ss := s.subs[c.T]; ss != nil {
			topic = ss.topic
		}
		s.mu.Unlock()
	}
	if code, msg := checkTopic(topic); code != "" {
		s.reply(fail(c, code, msg))
		return
	}
	if err := s.h.allowed(s.ctx, s.ident, topic, Subscribe); err != nil {
		s.reply(fail(c, wire.CodeForbidden, err.Error()))
		return
	}
	if s.h.presence == nil {
		s.reply(fail(c, wire.CodeUnavailable, "presence: the broker does not implement it"))
		return
	}
	ms, err := s.h.presence.Members(s.ctx, topic)
	if err != nil {
		s.reply(fail(c, errCode(err), err.Error()))
		return
	}
	if ms == nil {
		ms = []wire.Member{}
	}
	s.reply(wire.Frame{Op: wire.OpPresence, ID: c.ID, T: c.T, Topic: topic, Members: ms})
}

// parseSubs reads the sub=T,TOPIC,FROM[,p] parameters as commands.
func parseSubs(vs []string) ([]wire.Command, error) {
	var out []wire.Command
	for _, v := range vs {
		f := strings.Split(v, ",")
		if len(f) < 2 || len(f) > 4 || len(f) == 4 && f[3] != "p" {
			return nil, errors.New("sub: want T,TOPIC,FROM or T,TOPIC,FROM,p; got " + strconv.Quote(v))
		}
		t, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, errors.New("sub: T is not a number in " + strconv.Quote(v))
		}
		c := wire.Command{Op: wire.OpSubscribe, T: t, Topic: f[1], Presence: len(f) == 4}
		if len(f) > 2 {
			c.From = f[2]
		}
		out = append(out, c)
	}
	return out, nil
}

// parseCommands reads one command or a JSON array of them.
func parseCommands(b []byte) ([]wire.Command, error) {
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) > 0 && b[0] == '[' {
		var cs []wire.Command
		err := json.Unmarshal(b, &cs)
		return cs, err
	}
	var c wire.Command
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return []wire.Command{c}, nil
}
