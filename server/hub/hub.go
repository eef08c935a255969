//go:build !js

package hub

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Reserved envelope types (see the package doc).
const (
	TypeOpen    = "_open"
	TypeGap     = "_gap"
	TypePing    = "_ping"
	TypeMessage = "message" // the default type
)

// Errors.
var (
	ErrGap       = errors.New("hub: history gap")           // matched by every *GapError
	ErrClosed    = errors.New("hub: closed")                // the Hub was closed
	ErrTopic     = errors.New("hub: bad topic name")        // 1-128 of A-Z a-z 0-9 . _ - : /
	ErrType      = errors.New("hub: bad message type")      // 1-64 bytes, no CR, LF, NUL; no "_" prefix
	ErrData      = errors.New("hub: data is not JSON")      // data must be one JSON value
	ErrTooLarge  = errors.New("hub: data over the limit")   // Config.MaxData
	ErrTopics    = errors.New("hub: too many topics")       // Config.MaxTopics
	ErrCursor    = errors.New("hub: malformed cursor")      // ParseCursor
	ErrNoFaults  = errors.New("hub: faults are turned off") // Config.Faults is false
	errBadOffset = errors.New("hub: bad offset")
)

// Config tunes a Hub. The zero value is ready to use.
type Config struct {
	// History is how many messages each topic keeps for readers that
	// resume. Defaults to 1024.
	History int
	// MaxData limits the JSON data of one message in bytes. Defaults to
	// 64 KiB.
	MaxData int
	// MaxTopics limits the number of topics. At the limit a topic that
	// holds nothing (no message, no subscriber) makes room for a new one;
	// if none does, ErrTopics. Defaults to 10000.
	MaxTopics int
	// MaxBatch limits the messages one Next, Read or Wait returns.
	// Defaults to 256.
	MaxBatch int
	// Faults enables SetFaults (tests only). Defaults to false.
	Faults bool
}

func (c *Config) fill() {
	if c.History <= 0 {
		c.History = 1024
	}
	if c.MaxData <= 0 {
		c.MaxData = 64 << 10
	}
	if c.MaxTopics <= 0 {
		c.MaxTopics = 10000
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
}

// Cursor is a position in a topic: after Offset of Epoch. The zero Cursor
// means "from now on".
type Cursor struct {
	Epoch  string
	Offset uint64
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.Epoch == "" && c.Offset == 0 }

// String returns the text form "EPOCH-OFFSET", or "" for the zero Cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return c.Epoch + "-" + strconv.FormatUint(c.Offset, 10)
}

// ParseCursor parses the text form of a Cursor. "" gives the zero Cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i > 64 {
		return Cursor{}, ErrCursor
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Cursor{}, ErrCursor
	}
	for _, r := range s[:i] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return Cursor{}, ErrCursor
		}
	}
	return Cursor{Epoch: s[:i], Offset: n}, nil
}

// MarshalText implements encoding.TextMarshaler with the text form.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Cursor) UnmarshalText(b []byte) error {
	v, err := ParseCursor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Message is the envelope every transport sends (see the package doc).
type Message struct {
	Topic  string          `json:"topic"`
	Offset uint64          `json:"offset"`
	Epoch  string          `json:"epoch"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// Cursor returns the position right after m.
func (m Message) Cursor() Cursor { return Cursor{Epoch: m.Epoch, Offset: m.Offset} }

// Batch is the answer of polling and long polling.
type Batch struct {
	Topic    string    `json:"topic"`
	Messages []Message `json:"messages"`
	Cursor   Cursor    `json:"cursor"`
	Gap      *GapError `json:"gap,omitempty"`
}

// GapError says the messages after Want are gone. Resume is the oldest
// position still readable; a reader that accepts the loss continues there.
type GapError struct {
	Topic  string `json:"-"`
	Reason string `json:"reason"` // "evicted", "epoch" or "ahead"
	Want   Cursor `json:"want"`
	Resume Cursor `json:"resume"`
	Oldest uint64 `json:"oldest"` // offset of the oldest message kept, 0 if none
}

func (e *GapError) Error() string {
	return "hub: history gap in topic " + strconv.Quote(e.Topic) + " (" + e.Reason + "): want after " +
		strconv.Quote(e.Want.String()) + ", can resume after " + strconv.Quote(e.Resume.String())
}

// Is makes errors.Is(err, ErrGap) true.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// Envelope returns the "_gap" control envelope for e.
func (e *GapError) Envelope() Message {
	data, _ := json.Marshal(e)
	return Message{Topic: e.Topic, Epoch: e.Resume.Epoch, Offset: e.Resume.Offset, Type: TypeGap, Data: data}
}

// Control returns a control envelope ("_open" or "_ping") at cursor c.
func Control(topic, typ string, c Cursor) Message {
	return Message{Topic: topic, Epoch: c.Epoch, Offset: c.Offset, Type: typ, Data: json.RawMessage("null")}
}

// Hub holds the topics. Its methods are safe for concurrent use.
type Hub struct {
	cfg    Config
	mu     sync.Mutex
	topics map[string]*topic
	closed bool
	done   chan struct{}
	subs   atomic.Int64
}

type topic struct {
	name  string
	epoch string
	ring  []Message // circular once it holds History messages; start is 0 until then
	start int       // index of the oldest message
	n     int       // messages held
	head  uint64    // offset of the newest message, 0 if none
	wake  chan struct{}
	fault *faultPlan
	// watchers counts subscriptions and waits: a watched topic is never
	// evicted.
	watchers int
}

// New returns an empty Hub.
func New(cfg Config) *Hub {
	cfg.fill()
	return &Hub{cfg: cfg, topics: map[string]*topic{}, done: make(chan struct{})}
}

// Close wakes every waiter with ErrClosed. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// ValidTopic reports whether name is a valid topic name.
func ValidTopic(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("._-:/", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidType reports whether typ may be published (reserved "_" types may
// not).
func ValidType(typ string) bool {
	return len(typ) > 0 && len(typ) <= 64 && typ[0] != '_' && !strings.ContainsAny(typ, "\r\n\x00") && utf8.ValidString(typ)
}

func newEpoch() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// topicLocked returns the topic, creating it. h.mu is held.
func (h *Hub) topicLocked(name string) (*topic, error) {
	if h.closed {
		return nil, ErrClosed
	}
	if !ValidTopic(name) {
		return nil, ErrTopic
	}
	t := h.topics[name]
	if t == nil {
		if len(h.topics) >= h.cfg.MaxTopics && !h.evictLocked() {
			return nil, ErrTopics
		}
		t = &topic{name: name, epoch: newEpoch(), wake: make(chan struct{})}
		h.topics[name] = t
	}
	return t, nil
}

// evictLocked drops one topic that holds nothing: no message, no
// subscriber, no fault plan (e.g. made by a poll of a random name). A
// client that comes back to it with its cursor sees an "epoch" gap.
func (h *Hub) evictLocked() bool {
	for name, t := range h.topics {
		if t.n == 0 && t.watchers == 0 && t.fault == nil {
			delete(h.topics, name)
			return true
		}
	}
	return false
}

// Draft is one message to publish.
type Draft struct {
	Type string          `json:"type"` // "" means "message"
	Data json.RawMessage `json:"data"` // nil means null
}

// Publish appends one message to topic and returns it with its offset and
// epoch. typ "" means "message"; nil data means null.
func (h *Hub) Publish(topic, typ string, data json.RawMessage) (Message, error) {
	ms, err := h.PublishBatch(topic, []Draft{{Type: typ, Data: data}})
	if err != nil {
		return Message{}, err
	}
	return ms[0], nil
}

// PublishBatch appends messages to topic atomically: all or none.
func (h *Hub) PublishBatch(topic string, drafts []Draft) ([]Message, error) {
	out := make([]Message, len(drafts))
	for i, d := range drafts {
		if d.Type == "" {
			d.Type = TypeMessage
		}
		if !ValidType(d.Type) {
			return nil, ErrType
		}
		if len(d.Data) == 0 {
			d.Data = json.RawMessage("null")
		}
		if len(d.Data) > h.cfg.MaxData {
			return nil, ErrTooLarge
		}
		if !json.Valid(d.Data) || !utf8.Valid(d.Data) { // JSON text is UTF-8 (RFC 8259)
			return nil, ErrData
		}
		out[i] = Message{Topic: topic, Type: d.Type, Data: append(json.RawMessage(nil), d.Data...)}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.topicLocked(topic)
	if err != nil {
		return nil, err
	}
	for i := range out {
		t.head++
		out[i].Offset, out[i].Epoch = t.head, t.epoch
		if len(t.ring) < h.cfg.History { // grows to History, then wraps
			t.ring = append(t.ring, out[i])
			t.n++
		} else {
			t.ring[t.start] = out[i]
			t.start = (t.start + 1) % len(t.ring)
		}
	}
	if len(out) > 0 {
		close(t.wake)
		t.wake = make(chan struct{})
	}
	return out, nil
}

// Reset drops the history of topic and starts a new epoch, as a restart
// would. Readers of the old epoch get a *GapError.
func (h *Hub) Reset(topic string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.topicLocked(topic)
	if err != nil {
		return err
	}
	t.epoch = newEpoch()
	t.ring = nil
	t.start, t.n, t.head = 0, 0, 0
	close(t.wake)
	t.wake = make(chan struct{})
	return nil
}

// Head returns the cursor after the newest message of topic.
func (h *Hub) Head(topic string) (Cursor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.topicLocked(topic)
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{Epoch: t.epoch, Offset: t.head}, nil
}

// resolveLocked turns the zero cursor into the head and checks c.
func (t *topic) resolveLocked(c Cursor) (Cursor, *GapError) {
	if c.IsZero() {
		return Cursor{Epoch: t.epoch, Offset: t.head}, nil
	}
	oldest := t.head - uint64(t.n) + 1 // offset of the oldest kept (head+1 if none)
	gap := &GapError{Topic: t.name, Want: c, Resume: Cursor{Epoch: t.epoch, Offset: oldest - 1}}
	if t.n > 0 {
		gap.Oldest = oldest
	}
	switch {
	case c.Epoch != t.epoch:
		gap.Reason = "epoch"
	case c.Offset > t.head:
		gap.Reason = "ahead"
	case c.Offset+1 < oldest:
		gap.Reason = "evicted"
	default:
		return c, nil
	}
	return c, gap
}

// readLocked returns up to max messages after c (already resolved).
func (t *topic) readLocked(c Cursor, max int) []Message {
	k := int(t.head - c.Offset)
	if k > max {
		k = max
	}
	if k <= 0 {
		return nil
	}
	out := make([]Message, k)
	first := t.n - int(t.head-c.Offset) // index (from oldest) of the message after c
	for i := range out {
		out[i] = t.ring[(t.start+first+i)%len(t.ring)]
	}
	return out
}

// Read returns the messages after from (at most Config.MaxBatch) and the
// cursor to read from next, without waiting. For a gap the batch carries
// the *GapError and the error is the same *GapError.
func (h *Hub) Read(topic string, from Cursor) (Batch, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.topicLocked(topic)
	if err != nil {
		return Batch{}, err
	}
	b, _ := h.readBatchLocked(t, from)
	if b.Gap != nil {
		return b, b.Gap
	}
	return b, nil
}

func (h *Hub) readBatchLocked(t *topic, from Cursor) (Batch, chan struct{}) {
	c, gap := t.resolveLocked(from)
	if gap != nil {
		return Batch{Topic: t.name, Messages: []Message{}, Cursor: gap.Resume, Gap: gap}, nil
	}
	ms := t.readLocked(c, h.cfg.MaxBatch)
	if len(ms) > 0 {
		c = ms[len(ms)-1].Cursor()
	} else {
		ms = []Message{}
	}
	return Batch{Topic: t.name, Messages: ms, Cursor: c}, t.wake
}

// Wait is Read that waits until there is at least one message or a gap
// after from, or ctx ends. When ctx ends it returns the empty batch at the
// resolved cursor and ctx.Err().
func (h *Hub) Wait(ctx context.Context, topic string, from Cursor) (Batch, error) {
	h.mu.Lock()
	t, err := h.topicLocked(topic)
	if err != nil {
		h.mu.Unlock()
		return Batch{}, err
	}
	t.watchers++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		t.watchers--
		h.mu.Unlock()
	}()
	for {
		h.mu.Lock()
		b, wake := h.readBatchLocked(t, from)
		h.mu.Unlock()
		if b.Gap != nil {
			return b, b.Gap
		}
		if len(b.Messages) > 0 {
			return b, nil
		}
		from = b.Cursor
		select {
		case <-wake:
		case <-ctx.Done():
			return b, ctx.Err()
		case <-h.done:
			return b, ErrClosed
		}
	}
}

// Subscription follows one topic from a cursor. Use Next to read; Close (or
// the end of the context given to Subscribe) frees it.
type Subscription struct {
	h      *Hub
	t      *topic
	cur    Cursor
	start  Cursor
	once   sync.Once
	closed chan struct{}
	stop   func() bool
}

// Subscribe starts following topic after from. A zero from starts at the
// head. If the history after from is gone it returns a *GapError. The
// subscription ends when ctx ends or Close is called.
func (h *Hub) Subscribe(ctx context.Context, topic string, from Cursor) (*Subscription, error) {
	h.mu.Lock()
	t, err := h.topicLocked(topic)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	c, gap := t.resolveLocked(from)
	if gap == nil {
		t.watchers++
	}
	h.mu.Unlock()
	if gap != nil {
		return nil, gap
	}
	s := &Subscription{h: h, t: t, cur: c, start: c, closed: make(chan struct{})}
	h.subs.Add(1)
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

// Start returns the cursor the subscription started after.
func (s *Subscription) Start() Cursor { return s.start }

// Cursor returns the cursor after the last message Next returned.
func (s *Subscription) Cursor() Cursor { return s.cur }

// Next waits for the messages after the cursor and returns them (at most
// Config.MaxBatch), in order. A reader that falls behind the history gets a
// *GapError. After Close or the end of the subscription's context it
// returns ErrClosed; when ctx ends, ctx.Err().
func (s *Subscription) Next(ctx context.Context) ([]Message, error) {
	return s.NextOr(ctx, nil)
}

// NextOr is Next that also returns (nil, nil) when tick delivers first
// (for heartbeats). A nil tick never delivers.
func (s *Subscription) NextOr(ctx context.Context, tick <-chan time.Time) ([]Message, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	for {
		h := s.h
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, ErrClosed
		}
		b, wake := h.readBatchLocked(s.t, s.cur)
		h.mu.Unlock()
		if b.Gap != nil {
			return nil, b.Gap
		}
		if len(b.Messages) > 0 {
			s.cur = b.Cursor
			return b.Messages, nil
		}
		select {
		case <-wake:
		case <-tick:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, ErrClosed
		case <-h.done:
			return nil, ErrClosed
		}
	}
}

// Close ends the subscription. It is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.h.mu.Lock()
		s.t.watchers--
		s.h.mu.Unlock()
		s.h.subs.Add(-1)
		if s.stop != nil {
			s.stop()
		}
	})
}

// Subscribers returns the number of open subscriptions (for leak checks).
func (h *Hub) Subscribers() int { return int(h.subs.Load()) }

// Topics returns the number of topics.
func (h *Hub) Topics() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics)
}

// FaultPlan plans faults for the connections of one topic (tests only).
type FaultPlan struct {
	// Cuts is how many connections to cut mid-frame.
	Cuts int `json:"cuts"`
	// Stalls is how many connections to stall: they stay open and silent
	// (no messages, no heartbeats) until the client leaves.
	Stalls int `json:"stalls"`
	// BadGateways is how many poll answers to replace by a 502, as a
	// proxy that timed a hanging request out would (BatchFault only).
	BadGateways int `json:"badGateways"`
	// Every bounds the messages sent before a fault: each faulted
	// connection sends a random number in [0, Every]. Defaults to 100.
	Every int `json:"every"`
	// MaxAnswer, if positive, cuts every poll answer of more than
	// MaxAnswer messages, as a link that breaks long responses would
	// (BatchFault only; counted as cuts, beyond Cuts).
	MaxAnswer int `json:"maxAnswer"`
}

// FaultStats counts the faults done for a topic.
type FaultStats struct {
	Cuts        int `json:"cuts"`
	Stalls      int `json:"stalls"`
	BadGateways int `json:"badGateways"`
}

type faultPlan struct {
	plan      FaultPlan
	done      FaultStats
	countdown int // messages until the next batch fault (BatchFault)
}

// Fault is the fault planned for one connection: after After messages,
// cut it (Stall false) or stall it (Stall true); or, with Status set (502,
// BatchFault only), answer that status instead.
type Fault struct {
	After  int
	Stall  bool
	Status int
}

// SetFaults replaces the fault plan of topic and zeroes its stats.
func (h *Hub) SetFaults(topic string, p FaultPlan) error {
	if !h.cfg.Faults {
		return ErrNoFaults
	}
	if p.Every <= 0 {
		p.Every = 100
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t, err := h.topicLocked(topic)
	if err != nil {
		return err
	}
	t.fault = &faultPlan{plan: p, countdown: rand.IntN(p.Every + 1)}
	return nil
}

// BatchFault is NextFault for transports that answer one batch per
// request (polling): faults fall every [0, Every] messages over the
// topic's answers, counted across requests. n is the size of the batch
// about to be sent (an empty answer counts as 1). Call Faulted when it
// happens.
func (h *Hub) BatchFault(topic string, n int) (Fault, bool) {
	if !h.cfg.Faults {
		return Fault{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[topic]
	if t == nil || t.fault == nil {
		return Fault{}, false
	}
	f := t.fault
	if f.plan.MaxAnswer > 0 && n > f.plan.MaxAnswer {
		return Fault{}, true
	}
	cuts, stalls := max(f.plan.Cuts-f.done.Cuts, 0), max(f.plan.Stalls-f.done.Stalls, 0)
	bad := max(f.plan.BadGateways-f.done.BadGateways, 0)
	if cuts == 0 && stalls == 0 && bad == 0 {
		return Fault{}, false
	}
	if f.countdown -= max(n, 1); f.countdown >= 0 {
		return Fault{}, false
	}
	// The retry of the same batch must get through: count it in.
	f.countdown = max(n, 1) + rand.IntN(f.plan.Every+1)
	switch r := rand.IntN(cuts + stalls + bad); {
	case r < cuts:
		return Fault{}, true
	case r < cuts+stalls:
		return Fault{Stall: true}, true
	}
	return Fault{Status: 502}, true
}

// NextFault returns the fault planned for a new connection to topic, if
// any. Call Faulted when it happens.
func (h *Hub) NextFault(topic string) (Fault, bool) {
	if !h.cfg.Faults {
		return Fault{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[topic]
	if t == nil || t.fault == nil {
		return Fault{}, false
	}
	f := t.fault
	cuts, stalls := max(f.plan.Cuts-f.done.Cuts, 0), max(f.plan.Stalls-f.done.Stalls, 0)
	if cuts == 0 && stalls == 0 {
		return Fault{}, false
	}
	return Fault{After: rand.IntN(f.plan.Every + 1), Stall: rand.IntN(cuts+stalls) >= cuts}, true
}

// Faulted records that f happened on a connection to topic.
func (h *Hub) Faulted(topic string, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[topic]; t != nil && t.fault != nil {
		if f.Status != 0 {
			t.fault.done.BadGateways++
		} else if f.Stall {
			t.fault.done.Stalls++
		} else {
			t.fault.done.Cuts++
		}
	}
}

// Faults returns the faults done for topic since SetFaults.
func (h *Hub) Faults(topic string) FaultStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[topic]; t != nil && t.fault != nil {
		return t.fault.done
	}
	return FaultStats{}
}
