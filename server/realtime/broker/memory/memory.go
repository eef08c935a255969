//go:build !js

package memory

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// MaxKeys bounds the idempotency keys one topic remembers; past it the
// oldest is forgotten before its broker.IdempotencyWindow ends.
const MaxKeys = 16384

// Broker holds the topics of one process. Its methods are safe for
// concurrent use.
type Broker struct {
	lim    broker.Limits
	now    func() time.Time
	mu     sync.Mutex
	topics map[string]*topic
	// presence: topic → client → member (presence.go)
	presence map[string]map[string]presence
	closed   bool
	done     chan struct{}
	subs     atomic.Int64
	bytes    int64     // history of all topics (Limits.TotalHistoryBytes)
	seq      uint64    // order of appends across topics, for eviction
	swept    time.Time // last sweep of idle topics
}

var _ broker.Broker = (*Broker)(nil)
var _ broker.Resetter = (*Broker)(nil)

type topic struct {
	name  string
	epoch string
	msgs  []entry       // oldest first
	bytes int64         // history held (Limits.HistoryBytes)
	head  uint64        // offset of the newest message, 0 if none
	wake  chan struct{} // closed and replaced by every append
	// waiting are the subscriptions whose TryNext armed a ready callback;
	// every append (and Reset) fires and clears them.
	waiting []*subscription
	shared  sharedRead // the last read of TryNext
	used    time.Time  // last publish, read or subscribe (Limits.TopicIdle)
	// watchers counts subscriptions: a watched topic is never evicted.
	watchers int
	keys     map[string]keyEntry
	keyOrder []string // oldest first, for expiry
}

// sharedRead is the messages after offset after of epoch, as TryNext
// read them last; a message never changes, so it serves every subscriber
// at that position.
type sharedRead struct {
	epoch string
	after uint64
	msgs  []wire.Message
}

// entry is one message of a topic's history.
type entry struct {
	m    wire.Message
	seq  uint64 // Broker.seq when appended
	size int64  // broker.HistorySize
}

type keyEntry struct {
	receipt broker.Receipt
	at      time.Time
}

// New returns an empty Broker with limits l (zero fields take defaults).
func New(l broker.Limits) *Broker { return NewWithClock(l, time.Now) }

// NewWithClock is New with the clock that idle times, idempotency keys and
// presence are measured by (tests).
func NewWithClock(l broker.Limits, now func() time.Time) *Broker {
	l.Fill()
	return &Broker{lim: l, now: now, topics: map[string]*topic{}, done: make(chan struct{})}
}

// Close wakes every subscriber with broker.ErrClosed. It is idempotent.
func (b *Broker) Close() error {
	var ready []func()
	defer fire(&ready) // after the unlock
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
		for _, t := range b.topics {
			t.takeReadyLocked(&ready)
		}
	}
	return nil
}

// takeReadyLocked moves the ready callbacks of t's waiting subscriptions
// to ready. b.mu is held.
func (t *topic) takeReadyLocked(ready *[]func()) {
	for _, s := range t.waiting {
		if s.ready != nil {
			*ready = append(*ready, s.ready)
			s.ready = nil
		}
	}
	clear(t.waiting)
	t.waiting = t.waiting[:0]
}

// fire runs each callback in a goroutine of its own.
func fire(ready *[]func()) {
	for _, f := range *ready {
		go f()
	}
}

// Health always reports healthy until Close.
func (b *Broker) Health(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return broker.ErrClosed
	}
	return nil
}

func newEpoch() string {
	var r [8]byte
	crand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// topicLocked returns the topic, creating it. b.mu is held.
func (b *Broker) topicLocked(name string) (*topic, error) {
	if b.closed {
		return nil, broker.ErrClosed
	}
	if !wire.ValidTopic(name) {
		return nil, broker.ErrTopic
	}
	now := b.now()
	t := b.topics[name]
	if t == nil {
		if now.Sub(b.swept) >= b.lim.TopicIdle/4 {
			b.sweepLocked(now)
		}
		if len(b.topics) >= b.lim.MaxTopics && !b.evictLocked() {
			return nil, broker.ErrTopics
		}
		t = &topic{name: name, epoch: newEpoch(), wake: make(chan struct{})}
		b.topics[name] = t
	}
	t.used = now
	return t, nil
}

// sweepLocked drops the topics without subscribers that went untouched
// for Limits.TopicIdle.
func (b *Broker) sweepLocked(now time.Time) {
	b.swept = now
	for name, t := range b.topics {
		if t.watchers == 0 && now.Sub(t.used) >= b.lim.TopicIdle {
			b.dropLocked(name, t)
		}
	}
}

// dropLocked forgets topic t and its history.
func (b *Broker) dropLocked(name string, t *topic) {
	b.bytes -= t.bytes
	t.msgs, t.bytes = nil, 0
	delete(b.topics, name)
}

// evictLocked drops one topic without subscribers to make room: one that
// holds nothing (e.g. made by a poll of a random name), else the one
// untouched longest if that is past Limits.TopicIdle. A client that comes
// back to it with its cursor sees an "epoch" gap.
func (b *Broker) evictLocked() bool {
	var idle *topic
	for name, t := range b.topics {
		if t.watchers != 0 {
			continue
		}
		if len(t.msgs) == 0 {
			b.dropLocked(name, t)
			return true
		}
		if idle == nil || t.used.Before(idle.used) {
			idle = t
		}
	}
	if idle != nil && b.now().Sub(idle.used) >= b.lim.TopicIdle {
		b.dropLocked(idle.name, idle)
		return true
	}
	return false
}

// evictOldestLocked drops the oldest message of t.
func (b *Broker) evictOldestLocked(t *topic) {
	e := t.msgs[0]
	t.msgs[0] = entry{} // let the data go
	t.msgs = t.msgs[1:]
	t.bytes -= e.size
	b.bytes -= e.size
}

// evictGlobalLocked drops the oldest message of all topics; false when
// there is none.
func (b *Broker) evictGlobalLocked() bool {
	var oldest *topic
	for _, t := range b.topics {
		if len(t.msgs) > 0 && (oldest == nil || t.msgs[0].seq < oldest.msgs[0].seq) {
			oldest = t
		}
	}
	if oldest == nil {
		return false
	}
	b.evictOldestLocked(oldest)
	return true
}

// Publish implements broker.Broker.
func (b *Broker) Publish(ctx context.Context, topicName string, drafts []wire.Draft, opts broker.PublishOptions) (broker.Receipt, error) {
	drafts, err := broker.CheckDrafts(topicName, drafts, b.lim)
	if err != nil {
		return broker.Receipt{}, err
	}
	if len(drafts) == 0 {
		return broker.Receipt{}, broker.ErrData
	}
	if opts.IdempotencyKey != "" && !broker.ValidKey(opts.IdempotencyKey) {
		return broker.Receipt{}, broker.ErrKey
	}
	var size int64
	for _, d := range drafts {
		size += broker.HistorySize(d)
	}
	if size > b.lim.HistoryBytes || size > b.lim.TotalHistoryBytes {
		return broker.Receipt{}, fmt.Errorf("%w: a batch of %d bytes of history, the bound is %d per topic", broker.ErrTooLarge, size, min(b.lim.HistoryBytes, b.lim.TotalHistoryBytes))
	}
	var ready []func()
	defer fire(&ready) // after the unlock
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		return broker.Receipt{}, err
	}
	now := b.now()
	if opts.IdempotencyKey != "" {
		t.expireKeysLocked(now)
		if e, ok := t.keys[opts.IdempotencyKey]; ok && e.receipt.Cursor.Epoch == t.epoch {
			r := e.receipt
			r.Repeat = true
			return r, nil
		}
	}
	for _, d := range drafts {
		t.head++
		b.seq++
		m := wire.Message{Topic: topicName, Offset: t.head, Epoch: t.epoch, Type: d.Type, Data: append([]byte(nil), d.Data...)}
		e := entry{m: m, seq: b.seq, size: broker.HistorySize(d)}
		t.msgs = append(t.msgs, e)
		t.bytes += e.size
		b.bytes += e.size
	}
	// Bounds: History messages and HistoryBytes per topic, then
	// TotalHistoryBytes over all; the batch itself fits (checked above).
	for len(t.msgs) > b.lim.History || t.bytes > b.lim.HistoryBytes {
		b.evictOldestLocked(t)
	}
	for b.bytes > b.lim.TotalHistoryBytes && b.evictGlobalLocked() {
	}
	close(t.wake)
	t.wake = make(chan struct{})
	t.takeReadyLocked(&ready)
	r := broker.Receipt{Cursor: wire.Cursor{Epoch: t.epoch, Offset: t.head}, Count: len(drafts)}
	if opts.IdempotencyKey != "" {
		t.rememberLocked(opts.IdempotencyKey, r, now)
	}
	return r, nil
}

func (t *topic) expireKeysLocked(now time.Time) {
	i := 0
	for i < len(t.keyOrder) {
		k := t.keyOrder[i]
		if e, ok := t.keys[k]; ok && now.Sub(e.at) < broker.IdempotencyWindow {
			break
		}
		delete(t.keys, k)
		i++
	}
	t.keyOrder = t.keyOrder[i:]
}

func (t *topic) rememberLocked(key string, r broker.Receipt, now time.Time) {
	if t.keys == nil {
		t.keys = map[string]keyEntry{}
	}
	if len(t.keyOrder) >= MaxKeys {
		delete(t.keys, t.keyOrder[0])
		t.keyOrder = t.keyOrder[1:]
	}
	t.keys[key] = keyEntry{receipt: r, at: now}
	t.keyOrder = append(t.keyOrder, key)
}

// Reset implements broker.Resetter: it drops the history of topic and
// starts a new epoch, as a restart would.
func (b *Broker) Reset(ctx context.Context, topicName string) error {
	var ready []func()
	defer fire(&ready) // after the unlock
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		return err
	}
	t.epoch = newEpoch()
	b.bytes -= t.bytes
	t.msgs, t.bytes, t.head = nil, 0, 0
	t.keys, t.keyOrder = nil, nil
	close(t.wake)
	t.wake = make(chan struct{})
	t.takeReadyLocked(&ready)
	return nil
}

// Head implements broker.Broker.
func (b *Broker) Head(ctx context.Context, topicName string) (wire.Cursor, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		return wire.Cursor{}, err
	}
	return wire.Cursor{Epoch: t.epoch, Offset: t.head}, nil
}

// resolveLocked turns the zero cursor into the head and checks c.
func (t *topic) resolveLocked(c wire.Cursor) (wire.Cursor, *broker.GapError) {
	if c.IsZero() {
		return wire.Cursor{Epoch: t.epoch, Offset: t.head}, nil
	}
	oldest := t.head - uint64(len(t.msgs)) + 1 // offset of the oldest kept (head+1 if none)
	var reason string
	switch {
	case c.Epoch != t.epoch:
		reason = wire.GapEpoch
	case c.Offset > t.head:
		reason = wire.GapAhead
	case c.Offset+1 < oldest:
		reason = wire.GapEvicted
	default:
		return c, nil
	}
	gap := &broker.GapError{Topic: t.name, Gap: wire.Gap{Want: c, Reason: reason, Resume: wire.Cursor{Epoch: t.epoch, Offset: oldest - 1}}}
	if len(t.msgs) > 0 {
		gap.Oldest = oldest
	}
	return c, gap
}

// readLocked returns up to max messages after c (already resolved).
func (t *topic) readLocked(c wire.Cursor, max int) []wire.Message {
	k := int(t.head - c.Offset)
	if k > max {
		k = max
	}
	if k <= 0 {
		return nil
	}
	out := make([]wire.Message, k)
	first := len(t.msgs) - int(t.head-c.Offset) // index of the message after c
	for i := range out {
		out[i] = t.msgs[first+i].m
	}
	return out
}

func (t *topic) batchLocked(from wire.Cursor, max int) (wire.Batch, *broker.GapError) {
	c, gap := t.resolveLocked(from)
	if gap != nil {
		return wire.Batch{Topic: t.name, Messages: []wire.Message{}, Cursor: gap.Resume, Gap: &gap.Gap}, gap
	}
	ms := t.readLocked(c, max)
	if len(ms) > 0 {
		c = ms[len(ms)-1].Cursor()
	} else {
		ms = []wire.Message{}
	}
	return wire.Batch{Topic: t.name, Messages: ms, Cursor: c}, nil
}

// Read implements broker.Broker.
func (b *Broker) Read(ctx context.Context, topicName string, from wire.Cursor, max int) (wire.Batch, error) {
	if max <= 0 || max > b.lim.MaxBatch {
		max = b.lim.MaxBatch
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		return wire.Batch{}, err
	}
	batch, gap := t.batchLocked(from, max)
	if gap != nil {
		return batch, gap
	}
	return batch, nil
}

// subscription follows one topic of a memory Broker.
type subscription struct {
	b      *Broker
	t      *topic
	cur    wire.Cursor
	start  wire.Cursor
	once   sync.Once
	closed chan struct{}
	stop   func() bool
	ready  func() // armed by TryNext; b.mu guards it
}

// sharedLocked returns up to max messages after c, or the gap: the
// slice is shared by the subscribers at the same position (a fan-out
// reads the history once, with no allocation per subscriber) and must
// not be modified. b.mu is held.
func (t *topic) sharedLocked(c wire.Cursor, max int) ([]wire.Message, *broker.GapError) {
	c, gap := t.resolveLocked(c)
	if gap != nil {
		return nil, gap
	}
	k := min(int(t.head-c.Offset), max)
	if k <= 0 {
		return nil, nil
	}
	if sh := &t.shared; sh.epoch != t.epoch || sh.after != c.Offset || len(sh.msgs) != k {
		*sh = sharedRead{epoch: t.epoch, after: c.Offset, msgs: t.readLocked(c, k)}
	}
	return t.shared.msgs[:k:k], nil
}

// Subscribe implements broker.Broker.
func (b *Broker) Subscribe(ctx context.Context, topicName string, from wire.Cursor) (broker.Subscription, error) {
	b.mu.Lock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		b.mu.Unlock()
		return nil, err
	}
	c, gap := t.resolveLocked(from)
	if gap == nil {
		t.watchers++
	}
	b.mu.Unlock()
	if gap != nil {
		return nil, gap
	}
	s := &subscription{b: b, t: t, cur: c, start: c, closed: make(chan struct{})}
	b.subs.Add(1)
	s.stop = context.AfterFunc(ctx, s.end) // not Close: it would read s.stop while it is set
	return s, nil
}

func (s *subscription) Start() wire.Cursor { return s.start }

// Next implements broker.Subscription. The slice it returns is shared with
// the other subscribers at the same position: it must not be modified.
func (s *subscription) Next(ctx context.Context) ([]wire.Message, error) {
	for {
		select {
		case <-s.closed:
			return nil, broker.ErrClosed
		default:
		}
		b := s.b
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, broker.ErrClosed
		}
		ms, gap := s.t.sharedLocked(s.cur, b.lim.MaxBatch)
		wake := s.t.wake
		b.mu.Unlock()
		if gap != nil {
			return nil, gap
		}
		if len(ms) > 0 {
			s.cur = ms[len(ms)-1].Cursor()
			return ms, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, broker.ErrClosed
		case <-b.done:
			return nil, broker.ErrClosed
		}
	}
}

// TryNext is Next without the wait, for a caller that keeps no goroutine
// per subscription: it returns what Next would return at once (a slice
// shared with other subscribers: it must not be modified), or, when
// Next would wait, (nil, nil) after arranging for ready to be called once,
// in a goroutine of its own, when Next would no longer wait (a message, a
// gap, the end of the subscription, its context or the broker). A later
// TryNext replaces a callback not yet called.
func (s *subscription) TryNext(ready func()) ([]wire.Message, error) {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-s.closed: // under b.mu: end either saw the callback armed, or this sees it closed
		return nil, broker.ErrClosed
	default:
	}
	if b.closed {
		return nil, broker.ErrClosed
	}
	ms, gap := s.t.sharedLocked(s.cur, b.lim.MaxBatch)
	if gap != nil {
		return nil, gap
	}
	if len(ms) > 0 {
		s.cur = ms[len(ms)-1].Cursor()
		return ms, nil
	}
	if s.ready == nil {
		s.t.waiting = append(s.t.waiting, s)
	}
	s.ready = ready
	return nil, nil
}

// Close ends the subscription and its watch of the context.
func (s *subscription) Close() {
	s.end()
	s.stop()
}

// end ends the subscription once (Close, or the end of its context).
func (s *subscription) end() {
	var ready []func()
	s.once.Do(func() {
		close(s.closed)
		s.b.mu.Lock()
		s.t.watchers--
		s.t.used = s.b.now() // TopicIdle counts from the last subscriber
		if s.ready != nil {
			ready = append(ready, s.ready)
			s.ready = nil
			if i := slices.Index(s.t.waiting, s); i >= 0 {
				s.t.waiting = slices.Delete(s.t.waiting, i, i+1)
			}
		}
		s.b.mu.Unlock()
		s.b.subs.Add(-1)
	})
	fire(&ready)
}

// Subscribers returns the number of open subscriptions (for leak checks).
func (b *Broker) Subscribers() int { return int(b.subs.Load()) }

// HistoryBytes returns the bytes of history held by all topics, as
// broker.Limits.TotalHistoryBytes counts them.
func (b *Broker) HistoryBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// Topics returns the number of topics.
func (b *Broker) Topics() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics)
}
