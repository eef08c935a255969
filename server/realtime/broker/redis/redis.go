//go:build !js

package redis

import (
	"context"
	crand "crypto/rand"
	_ "embed"
	"encoding/hex"
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

var (
	//go:embed ensure.lua
	ensureLua string
	//go:embed publish.lua
	publishLua string
	//go:embed read.lua
	readLua string
	//go:embed reset.lua
	resetLua string
)

// Config says how to reach Redis and what to keep there.
type Config struct {
	// URL is redis://[USER:PASSWORD@]HOST:PORT/DB (rediss:// for TLS).
	// Required.
	URL string
	// Prefix starts every key and channel name. Defaults to "comet:".
	Prefix string
	// Limits bound every topic; zero fields take the defaults of
	// broker.Limits. MaxTopics is not enforced in Redis (see the package
	// doc).
	Limits broker.Limits
	// Timeout bounds each call to Redis and the dial; past it the call
	// fails with broker.ErrUnavailable. Defaults to 2s.
	Timeout time.Duration
	// EmptyTTL is how long Redis keeps a topic that has no message and
	// that no node follows. Defaults to 1h.
	EmptyTTL time.Duration
	// IdleTTL is how long Redis keeps a topic with messages (its history
	// and offsets) that no node follows and nobody publishes to or reads;
	// a reader that comes back later gets an "epoch" gap. Nodes touch the
	// topics they follow every IdleTTL/3 (at most every 30s). Defaults to
	// 7 days; at least 3s.
	IdleTTL time.Duration
	// Linger is how long a node stays subscribed to a topic after its last
	// local subscriber left, so clients that reconnect or poll find it
	// warm. Defaults to 30s.
	Linger time.Duration
}

// Broker is a broker.Broker on one Redis. Its methods are safe for
// concurrent use; many Brokers (nodes) may share one Redis.
type Broker struct {
	cfg   Config
	lim   broker.Limits
	c     rueidis.Client
	pub   *rueidis.Lua
	read  *rueidis.Lua
	reset *rueidis.Lua
	pres  *rueidis.Lua

	resync time.Duration // resyncEvery; shorter in tests

	ctx    context.Context // ends at Close; parent of the followers
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	topics  map[string]*follower
	leaving map[string]*follower   // stopped, not yet unsubscribed
	seen    map[string]wire.Cursor // see rememberLocked
	subs    int
}

var _ broker.Broker = (*Broker)(nil)
var _ broker.Resetter = (*Broker)(nil)

// New connects to the Redis at cfg.URL. It fails with an error matching
// broker.ErrUnavailable when Redis does not answer within cfg.Timeout.
func New(cfg Config) (*Broker, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "comet:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.EmptyTTL <= 0 {
		cfg.EmptyTTL = time.Hour
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 7 * 24 * time.Hour
	}
	cfg.IdleTTL = max(cfg.IdleTTL, 3*time.Second)
	if cfg.Linger <= 0 {
		cfg.Linger = 30 * time.Second
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("redis broker: prefix %q has a brace", cfg.Prefix)
	}
	opt, err := rueidis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis broker: %w", err)
	}
	opt.DisableCache = true // no client-side caching: every read is fresh
	opt.DisableRetry = true // a failure is reported, never retried behind the caller's back
	opt.Dialer.Timeout = cfg.Timeout
	opt.ConnWriteTimeout = cfg.Timeout // also bounds the keep-alive PINGs: a hung Redis is found
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", broker.ErrUnavailable, cfg.URL, err)
	}
	l := cfg.Limits
	l.Fill()
	b := &Broker{
		cfg: cfg, lim: l, c: c,
		pub:    rueidis.NewLuaScript(ensureLua + publishLua),
		read:   rueidis.NewLuaScript(ensureLua + readLua),
		reset:  rueidis.NewLuaScript(resetLua),
		pres:   rueidis.NewLuaScript(presenceLua),
		resync: min(resyncEvery, cfg.IdleTTL/3),
		topics: map[string]*follower{}, leaving: map[string]*follower{}, seen: map[string]wire.Cursor{},
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// keys of one topic; the braces keep them in one Redis Cluster slot.
func (b *Broker) metaKey(topic string) string   { return b.cfg.Prefix + "{" + topic + "}:m" }
func (b *Broker) streamKey(topic string) string { return b.cfg.Prefix + "{" + topic + "}:s" }
func (b *Broker) channel(topic string) string   { return b.cfg.Prefix + "{" + topic + "}" }
func (b *Broker) idemKey(topic, k string) string {
	return b.cfg.Prefix + "{" + topic + "}:k:" + k
}

func newEpoch() string {
	var r [8]byte
	crand.Read(r[:])
	return hex.EncodeToString(r[:])
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// fail turns an error of a call to Redis into the broker's: the caller's
// own cancellation stays itself, a closed client is broker.ErrClosed, and
// anything else (refused, timed out, LOADING, OOM...) is
// broker.ErrUnavailable.
func (b *Broker) fail(caller context.Context, err error) error {
	if err == nil {
		return nil
	}
	if caller.Err() != nil {
		return caller.Err()
	}
	if b.isClosed() {
		return broker.ErrClosed
	}
	return fmt.Errorf("%w: redis: %w", broker.ErrUnavailable, err)
}

// call runs f with the Timeout. When f fails on the connection (not a
// Redis error, not the timeout) and retry is set, it runs once more: a
// connection Redis closed while it sat idle fails its first command (the
// client reconnects for the next). Only calls that are safe to repeat
// retry: reads, and publishes with an idempotency key.
func (b *Broker) call(ctx context.Context, retry bool, f func(context.Context) error) error {
	for try := 0; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
		err := f(cctx)
		timedOut := cctx.Err() != nil
		cancel()
		_, redisErr := rueidis.IsRedisErr(err)
		if err == nil || !retry || try > 0 || redisErr || timedOut || errors.Is(err, rueidis.ErrClosing) {
			return b.fail(ctx, err)
		}
	}
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Health pings Redis within the Timeout.
func (b *Broker) Health(ctx context.Context) error {
	if b.isClosed() {
		return broker.ErrClosed
	}
	return b.call(ctx, true, func(cctx context.Context) error { return b.c.Do(cctx, b.c.B().Ping().Build()).Error() })
}

// Close ends every subscription with broker.ErrClosed and disconnects. It
// is idempotent.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	b.c.Close()
	return nil
}

// Publish implements broker.Broker with one script: the idempotency check,
// the offsets, XADD with MAXLEN History and the PUBLISH to the nodes.
func (b *Broker) Publish(ctx context.Context, topic string, drafts []wire.Draft, opts broker.PublishOptions) (broker.Receipt, error) {
	drafts, err := broker.CheckDrafts(topic, drafts, b.lim)
	if err != nil {
		return broker.Receipt{}, err
	}
	if len(drafts) == 0 {
		return broker.Receipt{}, broker.ErrData
	}
	if opts.IdempotencyKey != "" && !broker.ValidKey(opts.IdempotencyKey) {
		return broker.Receipt{}, broker.ErrKey
	}
	if b.isClosed() {
		return broker.Receipt{}, broker.ErrClosed
	}
	keys := []string{b.metaKey(topic), b.streamKey(topic)}
	if opts.IdempotencyKey != "" {
		keys = append(keys, b.idemKey(topic, opts.IdempotencyKey))
	}
	args := make([]string, 0, 7+2*len(drafts))
	args = append(args, newEpoch(), ms(b.cfg.EmptyTTL), ms(b.cfg.IdleTTL), b.channel(topic), strconv.Itoa(b.lim.History),
		ms(broker.IdempotencyWindow), strconv.Itoa(len(drafts)))
	for _, d := range drafts {
		args = append(args, d.Type, rueidis.BinaryString(d.Data))
	}
	var res []rueidis.RedisMessage
	err = b.call(ctx, opts.IdempotencyKey != "", func(cctx context.Context) (err error) {
		res, err = b.pub.Exec(cctx, b.c, keys, args).ToArray()
		return err
	})
	if err != nil {
		return broker.Receipt{}, err
	}
	if len(res) != 4 {
		return broker.Receipt{}, fmt.Errorf("%w: publish script answered %d values", broker.ErrUnavailable, len(res))
	}
	rep, _ := res[0].AsInt64()
	epoch, _ := res[1].ToString()
	head, _ := res[2].AsInt64()
	n, _ := res[3].AsInt64()
	return broker.Receipt{Cursor: wire.Cursor{Epoch: epoch, Offset: uint64(head)}, Count: int(n), Repeat: rep == 1}, nil
}

// state is a topic as Redis holds it.
type state struct {
	epoch  string
	head   uint64
	oldest uint64 // head+1 when the stream is empty
	msgs   []wire.Message
}

// fetch runs the read script: the topic's state (starting a new epoch when
// the history is gone) and up to max messages after from. seen is the
// newest cursor a node has had of the topic (zero if none).
func (b *Broker) fetch(ctx context.Context, topic string, seen, from wire.Cursor, max int) (state, error) {
	if !wire.ValidTopic(topic) {
		return state{}, broker.ErrTopic
	}
	if b.isClosed() {
		return state{}, broker.ErrClosed
	}
	keys := []string{b.metaKey(topic), b.streamKey(topic)}
	args := []string{
		newEpoch(), ms(b.cfg.EmptyTTL), ms(b.cfg.IdleTTL), b.channel(topic), seen.Epoch, strconv.FormatUint(seen.Offset, 10),
		from.Epoch, strconv.FormatUint(from.Offset, 10), strconv.Itoa(max),
	}
	var res []rueidis.RedisMessage
	err := b.call(ctx, true, func(cctx context.Context) (err error) {
		res, err = b.read.Exec(cctx, b.c, keys, args).ToArray()
		return err
	})
	if err != nil {
		return state{}, err
	}
	if len(res) != 4 {
		return state{}, fmt.Errorf("%w: read script answered %d values", broker.ErrUnavailable, len(res))
	}
	var st state
	st.epoch, _ = res[0].ToString()
	head, _ := res[1].AsInt64()
	oldest, _ := res[2].AsInt64()
	st.head, st.oldest = uint64(head), uint64(oldest)
	entries, _ := res[3].ToArray()
	if len(entries) > 0 {
		st.msgs = make([]wire.Message, 0, len(entries))
	}
	for _, e := range entries {
		m, err := entryMessage(topic, st.epoch, e)
		if err != nil {
			return state{}, fmt.Errorf("%w: %w", broker.ErrUnavailable, err)
		}
		st.msgs = append(st.msgs, m)
	}
	return st, nil
}

var errEntry = errors.New("redis broker: malformed stream entry")

// entryMessage decodes one XRANGE entry: ["OFFSET-0", ["t", TYPE, "d", DATA]].
func entryMessage(topic, epoch string, e rueidis.RedisMessage) (wire.Message, error) {
	kv, err := e.ToArray()
	if err != nil || len(kv) != 2 {
		return wire.Message{}, errEntry
	}
	id, _ := kv[0].ToString()
	off, err := strconv.ParseUint(strings.TrimSuffix(id, "-0"), 10, 64)
	if err != nil {
		return wire.Message{}, errEntry
	}
	fields, err := kv[1].ToArray()
	if err != nil || len(fields) != 4 {
		return wire.Message{}, errEntry
	}
	typ, _ := fields[1].ToString()
	data, _ := fields[3].AsBytes()
	return wire.Message{Topic: topic, Offset: off, Epoch: epoch, Type: typ, Data: data}, nil
}

// gapOf checks cursor c against st like the memory broker does.
func gapOf(topic string, st state, c wire.Cursor) *broker.GapError {
	g := &broker.GapError{Topic: topic, Gap: wire.Gap{Want: c, Resume: wire.Cursor{Epoch: st.epoch, Offset: st.oldest - 1}}}
	if st.oldest <= st.head {
		g.Oldest = st.oldest
	}
	switch {
	case c.Epoch != st.epoch:
		g.Reason = wire.GapEpoch
	case c.Offset > st.head:
		g.Reason = wire.GapAhead
	case c.Offset+1 < st.oldest:
		g.Reason = wire.GapEvicted
	default:
		return nil
	}
	return g
}

// Read implements broker.Broker with XRANGE.
func (b *Broker) Read(ctx context.Context, topic string, from wire.Cursor, max int) (wire.Batch, error) {
	if max <= 0 || max > b.lim.MaxBatch {
		max = b.lim.MaxBatch
	}
	st, err := b.fetch(ctx, topic, wire.Cursor{}, from, max)
	if err != nil {
		return wire.Batch{}, err
	}
	return batchOf(topic, st, from)
}

func batchOf(topic string, st state, from wire.Cursor) (wire.Batch, error) {
	if from.IsZero() {
		return wire.Batch{Topic: topic, Messages: []wire.Message{}, Cursor: wire.Cursor{Epoch: st.epoch, Offset: st.head}}, nil
	}
	if g := gapOf(topic, st, from); g != nil {
		return wire.Batch{Topic: topic, Messages: []wire.Message{}, Cursor: g.Resume, Gap: &g.Gap}, g
	}
	c := from
	if len(st.msgs) > 0 {
		c = st.msgs[len(st.msgs)-1].Cursor()
	} else {
		st.msgs = []wire.Message{}
	}
	return wire.Batch{Topic: topic, Messages: st.msgs, Cursor: c}, nil
}

// Head implements broker.Broker from the topic's hash.
func (b *Broker) Head(ctx context.Context, topic string) (wire.Cursor, error) {
	st, err := b.fetch(ctx, topic, wire.Cursor{}, wire.Cursor{}, 0)
	if err != nil {
		return wire.Cursor{}, err
	}
	return wire.Cursor{Epoch: st.epoch, Offset: st.head}, nil
}

// Reset implements broker.Resetter: the topic's stream is deleted and a new
// epoch starts on every node.
func (b *Broker) Reset(ctx context.Context, topic string) error {
	if !wire.ValidTopic(topic) {
		return broker.ErrTopic
	}
	if b.isClosed() {
		return broker.ErrClosed
	}
	keys := []string{b.metaKey(topic), b.streamKey(topic)}
	args := []string{newEpoch(), ms(b.cfg.EmptyTTL), b.channel(topic)}
	return b.call(ctx, true, func(cctx context.Context) error { return b.reset.Exec(cctx, b.c, keys, args).Error() })
}

// Subscribers returns the number of open subscriptions (for leak checks).
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs
}

// Followed returns the number of topics this node is subscribed to in
// Redis (lingering ones included).
func (b *Broker) Followed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.topics) + len(b.leaving)
}
