//go:build !js

package memory

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
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
}

var _ broker.Broker = (*Broker)(nil)
var _ broker.Resetter = (*Broker)(nil)

type topic struct {
	name  string
	epoch string
	ring  []wire.Message // circular once it holds History messages
	start int            // index of the oldest message
	n     int            // messages held
	head  uint64         // offset of the newest message, 0 if none
	wake  chan struct{}  // closed and replaced by every append
	// watchers counts subscriptions: a watched topic is never evicted.
	watchers int
	keys     map[string]keyEntry
	keyOrder []string // oldest first, for expiry
}

type keyEntry struct {
	receipt broker.Receipt
	at      time.Time
}

// New returns an empty Broker with limits l (zero fields take defaults).
func New(l broker.Limits) *Broker {
	l.Fill()
	return &Broker{lim: l, now: time.Now, topics: map[string]*topic{}, done: make(chan struct{})}
}

// Close wakes every subscriber with broker.ErrClosed. It is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
	return nil
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
	t := b.topics[name]
	if t == nil {
		if len(b.topics) >= b.lim.MaxTopics && !b.evictLocked() {
			return nil, broker.ErrTopics
		}
		t = &topic{name: name, epoch: newEpoch(), wake: make(chan struct{})}
		b.topics[name] = t
	}
	return t, nil
}

// evictLocked drops one topic that holds nothing: no message and no
// subscriber (e.g. made by a poll of a random name). A client that comes
// back to it with its cursor sees an "epoch" gap.
func (b *Broker) evictLocked() bool {
	for name, t := range b.topics {
		if t.n == 0 && t.watchers == 0 {
			delete(b.topics, name)
			return true
		}
	}
	return false
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
		m := wire.Message{Topic: topicName, Offset: t.head, Epoch: t.epoch, Type: d.Type, Data: append([]byte(nil), d.Data...)}
		if len(t.ring) < b.lim.History { // grows to History, then wraps
			t.ring = append(t.ring, m)
			t.n++
		} else {
			t.ring[t.start] = m
			t.start = (t.start + 1) % len(t.ring)
		}
	}
	close(t.wake)
	t.wake = make(chan struct{})
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
	b.mu.Lock()
	defer b.mu.Unlock()
	t, err := b.topicLocked(topicName)
	if err != nil {
		return err
	}
	t.epoch = newEpoch()
	t.ring = nil
	t.start, t.n, t.head = 0, 0, 0
	t.keys, t.keyOrder = nil, nil
	close(t.wake)
	t.wake = make(chan struct{})
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
	oldest := t.head - uint64(t.n) + 1 // offset of the oldest kept (head+1 if none)
	gap := &broker.GapError{Topic: t.name, Gap: wire.Gap{Want: c, Resume: wire.Cursor{Epoch: t.epoch, Offset: oldest - 1}}}
	if t.n > 0 {
		gap.Oldest = oldest
	}
	switch {
	case c.Epoch != t.epoch:
		gap.Reason = wire.GapEpoch
	case c.Offset > t.head:
		gap.Reason = wire.GapAhead
	case c.Offset+1 < oldest:
		gap.Reason = wire.GapEvicted
	default:
		return c, nil
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
	first := t.n - int(t.head-c.Offset) // index (from oldest) of the message after c
	for i := range out {
		out[i] = t.ring[(t.start+first+i)%len(t.ring)]
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
		batch, gap := s.t.batchLocked(s.cur, b.lim.MaxBatch)
		wake := s.t.wake
		b.mu.Unlock()
		if gap != nil {
			return nil, gap
		}
		if len(batch.Messages) > 0 {
			s.cur = batch.Cursor
			return batch.Messages, nil
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

// Close ends the subscription and its watch of the context.
func (s *subscription) Close() {
	s.end()
	s.stop()
}

// end ends the subscription once (Close, or the end of its context).
func (s *subscription) end() {
	s.once.Do(func() {
		close(s.closed)
		s.b.mu.Lock()
		s.t.watchers--
		s.b.mu.Unlock()
		s.b.subs.Add(-1)
	})
}

// Subscribers returns the number of open subscriptions (for leak checks).
func (b *Broker) Subscribers() int { return int(b.subs.Load()) }

// Topics returns the number of topics.
func (b *Broker) Topics() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics)
}
