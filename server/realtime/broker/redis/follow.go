//go:build !js

package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// maxInbox and maxInboxBytes bound the notifications one topic queues
// between the Redis connection and its follower; past them they are
// dropped and the follower reads the stream instead (nothing is lost: the
// offsets say what is missing).
const (
	maxInbox      = 4096
	maxInboxBytes = 8 << 20
)

// resyncEvery is how often a follower checks its topic in Redis even when
// nothing arrives: it finds a flushed Redis and keeps an empty topic alive.
const resyncEvery = 30 * time.Second

// chunkLen is the size of the blocks a follower keeps messages in. A full
// block is never written again, so readers get slices of it without a copy.
const chunkLen = 256

// chunk holds up to chunkLen consecutive messages from offset first.
type chunk struct {
	first uint64
	msgs  []wire.Message
}

// follower is this node's one Redis subscription to a topic. It keeps the
// newest messages in memory, which every local subscription reads, so a
// topic with many local subscribers costs one channel in Redis, and each
// message one copy in this process.
type follower struct {
	b    *Broker
	name string
	refs int         // local subscriptions; under b.mu
	idle *time.Timer // linger after the last one left; under b.mu
	prev *follower   // the one being torn down before this one subscribes
	seen wire.Cursor // the newest cursor an earlier follower of the topic had

	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed after the first sync (or the failure)
	gone   chan struct{} // closed once unsubscribed

	mu     sync.Mutex
	epoch  string
	head   uint64        // newest offset held (every one before it is in Redis)
	chunks []*chunk      // the newest messages, oldest first: History to History+chunkLen-1
	n      int           // messages in chunks
	wake   chan struct{} // closed and replaced on every change
	err    error         // sticky: ErrUnavailable or ErrClosed

	lastWake  time.Time   // follower goroutine only: see notify
	pending   bool        // a wake is planned on wakeTimer
	wakeTimer *time.Timer // stopped when no wake is planned

	inMu     sync.Mutex
	inbox    []string
	inBytes  int
	overflow bool
	kick     chan struct{}
	syncReq  chan chan error
}

// acquire returns the topic's follower, starting it if needed, with one
// more reference.
func (b *Broker) acquire(topic string) (*follower, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, broker.ErrClosed
	}
	f := b.topics[topic]
	if f == nil {
		f = &follower{
			b: b, name: topic, prev: b.leaving[topic],
			ready: make(chan struct{}), gone: make(chan struct{}),
			wake: make(chan struct{}), kick: make(chan struct{}, 1), syncReq: make(chan chan error),
		}
		f.ctx, f.cancel = context.WithCancel(b.ctx)
		b.topics[topic] = f
		b.wg.Add(1)
		go f.run()
	}
	if f.idle != nil {
		f.idle.Stop()
		f.idle = nil
	}
	f.refs++
	b.subs++
	return f, nil
}

// release drops a reference; the last one leaves the follower lingering.
func (b *Broker) release(f *follower) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f.refs--
	b.subs--
	if f.refs > 0 || b.topics[f.name] != f {
		return
	}
	f.idle = time.AfterFunc(b.cfg.Linger, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if f.refs == 0 && b.topics[f.name] == f {
			b.dropLocked(f)
		}
	})
}

// maxSeen bounds the cursors a node remembers of topics it stopped
// following.
const maxSeen = 10000

// rememberLocked keeps the newest cursor of a topic this node stops
// following: when it follows it again, Redis is asked whether it lost
// writes since (a head below it in the same epoch starts a new epoch).
func (b *Broker) rememberLocked(topic string, c wire.Cursor) {
	if len(b.seen) >= maxSeen {
		for k := range b.seen {
			delete(b.seen, k)
			break
		}
	}
	b.seen[topic] = c
}

// dropLocked stops f and keeps it in leaving until it has unsubscribed.
func (b *Broker) dropLocked(f *follower) {
	if b.topics[f.name] == f {
		delete(b.topics, f.name)
		b.leaving[f.name] = f
	}
	f.cancel()
}

// run subscribes, syncs, then applies notifications until stopped or
// Redis fails.
func (f *follower) run() {
	b := f.b
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		f.mu.Lock()
		last := wire.Cursor{Epoch: f.epoch, Offset: f.head}
		f.mu.Unlock()
		if last.Epoch != "" {
			b.rememberLocked(f.name, last)
		}
		if b.leaving[f.name] == f {
			delete(b.leaving, f.name)
		}
		if b.topics[f.name] == f {
			delete(b.topics, f.name)
		}
		b.mu.Unlock()
		close(f.gone)
	}()
	if f.prev != nil {
		select {
		case <-f.prev.gone:
		case <-f.ctx.Done():
		}
		f.prev = nil
	}
	b.mu.Lock()
	f.seen = b.seen[f.name]
	delete(b.seen, f.name)
	b.mu.Unlock()
	subscribed := make(chan struct{})
	var once sync.Once
	rctx := rueidis.WithOnSubscriptionHook(f.ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" {
			once.Do(func() { close(subscribed) })
		}
	})
	ch := b.channel(f.name)
	recv := make(chan error, 1)
	go func() { recv <- b.c.Receive(rctx, b.c.B().Subscribe().Channel(ch).Build(), f.onMessage) }()
	defer func() {
		f.cancel()
		<-recv
		uctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
		b.c.Do(uctx, b.c.B().Unsubscribe().Channel(ch).Build())
		cancel()
	}()
	timer := time.NewTimer(b.cfg.Timeout)
	select {
	case <-subscribed:
		timer.Stop()
	case err := <-recv:
		recv <- err
		f.fail(b.fail(f.ctx, fmt.Errorf("subscribing to %s: %w", ch, errOr(err))))
		return
	case <-timer.C:
		f.fail(fmt.Errorf("%w: subscribing to %s timed out", broker.ErrUnavailable, ch))
		return
	case <-f.ctx.Done():
		f.fail(broker.ErrClosed)
		return
	}
	// Subscribed first, read second: whatever is published from now on
	// arrives on the channel, whatever was before is in the stream.
	if err := f.sync(); err != nil {
		f.fail(err)
		return
	}
	close(f.ready)
	tick := time.NewTicker(b.resync)
	defer tick.Stop()
	f.wakeTimer = time.NewTimer(time.Hour)
	f.wakeTimer.Stop()
	defer f.wakeTimer.Stop()
	for {
		select {
		case <-f.wakeTimer.C:
			f.pending = false
			f.wakeNow()
		case <-f.kick:
			if err := f.drain(); err != nil {
				f.fail(err)
				return
			}
		case reply := <-f.syncReq:
			err := f.sync()
			reply <- err
			if err != nil {
				f.fail(err)
				return
			}
		case <-tick.C:
			if err := f.sync(); err != nil {
				f.fail(err)
				return
			}
		case err := <-recv:
			recv <- err
			f.fail(b.fail(f.ctx, fmt.Errorf("subscription to %s ended: %w", ch, errOr(err))))
			return
		case <-f.ctx.Done():
			f.fail(broker.ErrClosed)
			return
		}
	}
}

func errOr(err error) error {
	if err == nil {
		return errors.New("unsubscribed")
	}
	return err
}

// fail makes err sticky, wakes every reader and stops following: the next
// Subscribe to the topic starts a new follower.
func (f *follower) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	f.b.mu.Lock()
	f.b.dropLocked(f)
	f.b.mu.Unlock()
}

// onMessage runs on the Redis connection's goroutine: it only queues.
func (f *follower) onMessage(m rueidis.PubSubMessage) {
	f.inMu.Lock()
	if len(f.inbox) < maxInbox && f.inBytes+len(m.Message) <= maxInboxBytes {
		f.inbox = append(f.inbox, m.Message)
		f.inBytes += len(m.Message)
	} else {
		f.overflow = true
	}
	f.inMu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// drain applies the queued notifications in order.
func (f *follower) drain() error {
	f.inMu.Lock()
	in, over := f.inbox, f.overflow
	f.inbox, f.inBytes, f.overflow = nil, 0, false
	f.inMu.Unlock()
	if over {
		return f.sync()
	}
	changed := false
	for _, raw := range in {
		ok, ch := f.apply(raw)
		changed = changed || ch
		if !ok {
			if err := f.sync(); err != nil {
				return err
			}
		}
	}
	if changed {
		f.notify()
	}
	return nil
}

// wakeCost is about what waking one local reader costs this process. The
// readers of a topic are woken no more often than once per readers ×
// wakeCost (at most maxWakeGap): a burst reaches 1000 readers in batches
// instead of one wake per message, at the price of up to that much
// latency; a topic with few readers, or after a quiet spell, wakes at once.
const (
	wakeCost   = 2 * time.Microsecond
	maxWakeGap = 5 * time.Millisecond
)

// notify wakes the readers now, or plans it. Only the follower's
// goroutine calls it.
func (f *follower) notify() {
	if f.pending {
		return
	}
	f.b.mu.Lock()
	gap := min(time.Duration(f.refs)*wakeCost, maxWakeGap)
	f.b.mu.Unlock()
	if d := gap - time.Since(f.lastWake); d > 0 {
		f.pending = true
		f.wakeTimer.Reset(d)
		return
	}
	f.wakeNow()
}

func (f *follower) wakeNow() {
	f.mu.Lock()
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
	f.lastWake = time.Now()
}

// apply appends the messages of one notification and reports whether it
// could (a notification of another epoch, a reset or one that skips
// offsets needs a sync) and whether it added any. The caller wakes the
// readers.
func (f *follower) apply(raw string) (ok, changed bool) {
	kind, epoch, first, body, ok := parseHeader(raw)
	if !ok || kind != 'M' {
		return false, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if epoch != f.epoch || first > f.head+1 {
		return false, false
	}
	off := first
	for len(body) > 0 {
		var typ, data string
		if typ, body, ok = frame(body); !ok {
			return false, changed
		}
		if data, body, ok = frame(body); !ok {
			return false, changed
		}
		if off > f.head {
			f.push(wire.Message{Topic: f.name, Offset: off, Epoch: epoch, Type: typ, Data: []byte(data)})
			changed = true
		}
		off++
	}
	return true, changed
}

// parseHeader splits "M EPOCH FIRST COUNT\nBODY" or "R EPOCH\n".
func parseHeader(raw string) (kind byte, epoch string, first uint64, body string, ok bool) {
	nl := strings.IndexByte(raw, '\n')
	if nl < 2 || raw[1] != ' ' {
		return 0, "", 0, "", false
	}
	head := strings.Fields(raw[2:nl])
	kind, body = raw[0], raw[nl+1:]
	switch {
	case kind == 'R' && len(head) == 1:
		return kind, head[0], 0, body, true
	case kind == 'M' && len(head) == 3:
		n, err := strconv.ParseUint(head[1], 10, 64)
		if err != nil || n == 0 {
			return 0, "", 0, "", false
		}
		return kind, head[0], n, body, true
	}
	return 0, "", 0, "", false
}

// frame splits "LEN:BYTES" off the front of s.
func frame(s string) (v, rest string, ok bool) {
	c := strings.IndexByte(s, ':')
	if c <= 0 {
		return "", "", false
	}
	n, err := strconv.Atoi(s[:c])
	if err != nil || n < 0 || c+1+n > len(s) {
		return "", "", false
	}
	return s[c+1 : c+1+n], s[c+1+n:], true
}

// push appends m (offset head+1) and drops the oldest full chunk once the
// rest holds History. f.mu is held.
func (f *follower) push(m wire.Message) {
	size := min(chunkLen, f.b.lim.History)
	if len(f.chunks) == 0 || len(f.chunks[len(f.chunks)-1].msgs) == size {
		f.chunks = append(f.chunks, &chunk{first: m.Offset, msgs: make([]wire.Message, 0, size)})
	}
	last := f.chunks[len(f.chunks)-1]
	last.msgs = append(last.msgs, m)
	f.n++
	f.head = m.Offset
	for len(f.chunks) > 1 && f.n-len(f.chunks[0].msgs) >= f.b.lim.History {
		f.n -= len(f.chunks[0].msgs)
		f.chunks[0] = nil
		f.chunks = f.chunks[1:]
	}
}

// after returns up to max held messages after offset cur, which must be
// in [oldest-1, head). The slice is shared: readers do not modify it.
// f.mu is held.
func (f *follower) after(cur uint64, max int) []wire.Message {
	size := uint64(min(chunkLen, f.b.lim.History))
	off := cur + 1 - f.chunks[0].first
	c := f.chunks[off/size]
	i := int(off % size)
	j := min(len(c.msgs), i+max)
	return c.msgs[i:j:j]
}

// sync brings the ring up to the topic's head in Redis. When the epoch
// changed, or the ring is too far behind, the ring restarts empty at the
// head: older messages are read from Redis by the subscriptions.
func (f *follower) sync() error {
	for {
		f.mu.Lock()
		seen := wire.Cursor{Epoch: f.epoch, Offset: f.head}
		f.mu.Unlock()
		if seen.Epoch == "" {
			seen = f.seen // first sync: what the node saw before (Redis may have lost it since)
		}
		st, err := f.b.fetch(f.ctx, f.name, seen, wire.Cursor{Epoch: f.epoch, Offset: f.head}, f.b.lim.MaxBatch)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if st.epoch != f.epoch || f.head+1 < st.oldest || f.head > st.head {
			f.epoch, f.head = st.epoch, st.head
			f.chunks, f.n = nil, 0
		} else {
			for _, m := range st.msgs {
				if m.Offset == f.head+1 {
					f.push(m)
				}
			}
		}
		done := f.head >= st.head || len(st.msgs) == 0
		close(f.wake)
		f.wake = make(chan struct{})
		f.mu.Unlock()
		if done {
			return nil
		}
	}
}

// requestSync asks the follower's goroutine for a sync and waits for it.
func (f *follower) requestSync(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case f.syncReq <- reply:
	case <-f.gone:
		return f.stickyErr()
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *follower) stickyErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	return broker.ErrClosed
}

// snapshot returns the follower's epoch, head and oldest offset held
// (head+1 when none).
func (f *follower) snapshot() (epoch string, head, oldest uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.epoch, f.head, f.head - uint64(f.n) + 1, f.err
}

// subscription follows one topic through its node's follower.
type subscription struct {
	b      *Broker
	f      *follower
	cur    wire.Cursor
	start  wire.Cursor
	once   sync.Once
	closed chan struct{}
	stop   func() bool
}

// Subscribe implements broker.Broker. The node subscribes to the topic's
// channel before it reads the topic's state, so nothing published meanwhile
// is missed; the subscription then reads the history (from the node's ring,
// or from the stream when older) and the live tail from the ring.
func (b *Broker) Subscribe(ctx context.Context, topic string, from wire.Cursor) (broker.Subscription, error) {
	if !wire.ValidTopic(topic) {
		return nil, broker.ErrTopic
	}
	f, err := b.acquire(topic)
	if err != nil {
		return nil, err
	}
	start, err := b.resolve(ctx, f, from)
	if err != nil {
		b.release(f)
		return nil, err
	}
	s := &subscription{b: b, f: f, cur: start, start: start, closed: make(chan struct{})}
	s.stop = context.AfterFunc(ctx, s.end) // not Close: it would read s.stop while it is set
	return s, nil
}

// resolve waits for f to be ready and checks from against the topic.
func (b *Broker) resolve(ctx context.Context, f *follower, from wire.Cursor) (wire.Cursor, error) {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return wire.Cursor{}, ctx.Err()
	}
	epoch, head, oldest, err := f.snapshot()
	if err != nil {
		return wire.Cursor{}, err
	}
	if from.IsZero() {
		return wire.Cursor{Epoch: epoch, Offset: head}, nil
	}
	if from.Epoch != epoch || from.Offset > head {
		// The follower may not have seen a change yet: ask Redis.
		if err := f.requestSync(ctx); err != nil {
			return wire.Cursor{}, err
		}
		epoch, head, oldest, err = f.snapshot()
		if err != nil {
			return wire.Cursor{}, err
		}
	}
	if from.Epoch == epoch && from.Offset <= head && from.Offset+1 >= oldest {
		return from, nil // in the ring
	}
	// Older than the ring (or a gap): the stream decides.
	st, err := b.fetch(ctx, f.name, wire.Cursor{}, from, 0)
	if err != nil {
		return wire.Cursor{}, err
	}
	if g := gapOf(f.name, st, from); g != nil {
		return wire.Cursor{}, g
	}
	return from, nil
}

func (s *subscription) Start() wire.Cursor { return s.start }

func (s *subscription) Next(ctx context.Context) ([]wire.Message, error) {
	f, b := s.f, s.b
	for {
		select {
		case <-s.closed:
			return nil, broker.ErrClosed
		case <-b.ctx.Done():
			return nil, broker.ErrClosed
		default:
		}
		f.mu.Lock()
		if f.err != nil {
			err := f.err
			f.mu.Unlock()
			return nil, err
		}
		wake := f.wake
		oldest := f.head - uint64(f.n) + 1
		inRing := s.cur.Epoch == f.epoch && s.cur.Offset < f.head && s.cur.Offset+1 >= oldest
		behind := s.cur.Epoch != f.epoch || s.cur.Offset+1 < oldest
		if inRing {
			out := f.after(s.cur.Offset, b.lim.MaxBatch)
			f.mu.Unlock()
			s.cur = out[len(out)-1].Cursor()
			return out, nil
		}
		f.mu.Unlock()
		if behind {
			st, err := b.fetch(ctx, f.name, wire.Cursor{}, s.cur, b.lim.MaxBatch)
			if err != nil {
				return nil, err
			}
			if g := gapOf(f.name, st, s.cur); g != nil {
				return nil, g
			}
			if len(st.msgs) > 0 {
				s.cur = st.msgs[len(st.msgs)-1].Cursor()
				return st.msgs, nil
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, broker.ErrClosed
		case <-b.ctx.Done():
			return nil, broker.ErrClosed
		}
	}
}

func (s *subscription) Close() {
	s.end()
	s.stop()
}

// end ends the subscription once (Close, or the end of its context).
func (s *subscription) end() {
	s.once.Do(func() {
		close(s.closed)
		s.b.release(s.f)
	})
}
