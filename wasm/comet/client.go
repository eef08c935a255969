//go:build js && wasm

package comet

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

// Errors of a Client.
var (
	// ErrUnconfirmed matches every *UnconfirmedError: the server did not
	// confirm a connection or a subscription within
	// Options.ConfirmTimeout.
	ErrUnconfirmed = errors.New("comet: not confirmed by the server")
	// ErrForbidden matches a *CommandError with code "forbidden": the
	// server does not allow this client the command (e.g. a publish to a
	// topic only the server publishes to).
	ErrForbidden = errors.New("comet: forbidden")
	// ErrTooLarge matches a *CommandError with code "too_large".
	ErrTooLarge = errors.New("comet: too large")
	// ErrTooMany matches a *CommandError with code "too_many": over a
	// limit of the server (topics per session, rate).
	ErrTooMany = errors.New("comet: over a server limit")
	// ErrNoPresence: presence needs a session (Connect or Subscribe);
	// SubscribeFeed's single-topic endpoints carry none.
	ErrNoPresence = errors.New("comet: presence needs a session (Connect or Subscribe), not SubscribeFeed")
	// ErrData: Publish needs one valid JSON value.
	ErrData = errors.New("comet: data is not valid JSON")
	// ErrType: a publish type must be 1-64 bytes, without CR, LF, NUL or
	// a leading "_".
	ErrType = errors.New("comet: bad message type")
	// ErrClientClosed is returned after Client.Close.
	ErrClientClosed = errors.New("comet: client closed")

	errUpgrade  = errors.New("comet: moving up to a better transport")
	errRehello  = errors.New("comet: the server started a new session on the same connection")
	errProtocol = errors.New("comet: session protocol error")
)

// CommandError is the server's refusal of a command ("err" frame, or the
// HTTP status of a publish POST).
type CommandError struct {
	Op      string // "sub", "pub", "who"
	Topic   string
	Code    string // wire.CodeBad, CodeForbidden, CodeTooMany, CodeTooLarge, CodeUnavailable
	Message string
}

func (e *CommandError) Error() string {
	return "comet: " + e.Op + " " + strconv.Quote(e.Topic) + ": " + e.Code + ": " + e.Message
}

// Is matches ErrForbidden, ErrTooLarge and ErrTooMany by code.
func (e *CommandError) Is(target error) bool {
	switch target {
	case ErrForbidden:
		return e.Code == wire.CodeForbidden
	case ErrTooLarge:
		return e.Code == wire.CodeTooLarge
	case ErrTooMany:
		return e.Code == wire.CodeTooMany
	}
	return false
}

// UnconfirmedError says what the server did not confirm in time, and why
// that may be. It is not terminal: the Client switches transport and keeps
// trying.
type UnconfirmedError struct {
	Transport string        // "ws", "sse", ...
	What      string        // "connection" (no hello frame) or `subscription "topic"`
	Waited    time.Duration // Options.ConfirmTimeout
}

func (e *UnconfirmedError) Error() string {
	why := ""
	if e.Transport == "sse" || e.Transport == "stream" || e.Transport == "longpoll" {
		why = " (over HTTP/1.1 a browser opens at most 6 connections per origin: other tabs or streams of this origin may hold them all)"
	}
	return "comet: " + e.Transport + ": no confirmation of the " + e.What + " within " + e.Waited.String() + why
}

// Is makes errors.Is(err, ErrUnconfirmed) true.
func (e *UnconfirmedError) Is(target error) bool { return target == ErrUnconfirmed }

// Member is one client present on a topic (wire.Member).
type Member = wire.Member

// PresenceEvent is a join or a leave on a subscription's topic.
type PresenceEvent struct {
	Join   bool // false: a leave
	Member Member
	// Dropped counts the events before this one that were dropped because
	// the application did not read them (the queue holds 256).
	Dropped int
}

// SubscribeOptions says where a Client subscription starts. A nil
// *SubscribeOptions means "from now on".
type SubscribeOptions struct {
	// From is the cursor to start after. Zero means "from now on", unless
	// Oldest is set.
	From Cursor
	// Oldest starts at the oldest message the server retains
	// (wire.FromOldest). Ignored when From is set.
	Oldest bool
	// Presence makes the client a member of the topic's presence: the
	// members see it join and leave, and NextPresence receives their joins
	// and leaves (its own join included). Who works without it. Defaults
	// to false.
	Presence bool
	// QueueSize bounds the messages waiting for Next. When it is full the
	// client leaves the topic on the connection (the other topics go on)
	// and subscribes it again from its cursor once Next has taken half of
	// the queue: nothing is lost or repeated, and a reader that falls
	// behind the server's retained history gets a *GapError (with
	// Presence, the topic's members see it leave and join again). Defaults
	// to Options.QueueSize.
	QueueSize int
}

// ClientStats counts what a Client did.
type ClientStats struct {
	Connections int // transport connections opened (polls: one per run of the poll loop)
	Open        int // transport connections open now (0 or 1; 2 while a probe runs)
	MaxOpen     int // the most ever open at once
	Switches    int // changes of transport
	Upgrades    int // switches back up to a better transport
	Probes      int // background tries of a better transport
	Publishes   int // publishes the server stored (or had stored: repeats)
	Retries     int // publish attempts sent again after a drop or refusal
	Repeats     int // publish answers that said "already stored" (a retry after a lost answer)
	Duplicates  int // message lines skipped because they were already delivered
	Tokens      int // tokens fetched from Options.Token
}

// Client is one session with a comet server: one transport connection
// carrying any number of subscriptions, publishes and presence. Its
// methods are safe for concurrent use.
type Client struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the engine stops
	pubsWG sync.WaitGroup
	keys   string // idempotency key prefix, random per client
	tokens *tokenSource
	wake   chan struct{}
	pubSig chan struct{}

	mu      sync.Mutex
	subs    map[int]*Subscription
	lastT   int
	link    *link
	gen     uint64
	changed chan struct{} // closed and replaced at every change of link state
	active  string
	stats   ClientStats
	lastErr error
	pubs    []*pubReq
	nextID  uint64
	keyN    uint64
	closed  bool
	self    Member

	pkey     string         // the secret its anonymous presence member derives from (key= on every transport)
	leavesWG sync.WaitGroup // leave requests of poll subscriptions (pollpres.go)
}

// Member returns how the server shows this client in presence (from the
// hello of its connection, or the first poll of a subscription with
// presence): the same on every transport (anonymous: derived from a
// secret the client draws at Connect). It is zero until then.
func (c *Client) Member() Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.self
}

// Connect opens a session with the server at opts.URL. It returns at once;
// the first transport connects in the background (WebSocket on
// /realtime/session/ws, then SSE, HTTP streaming, long polling and
// polling). ctx bounds the client's life. Options.From and
// Options.Transports entries other than this package's WS, SSE, Stream,
// LongPoll and Poll are refused.
func Connect(ctx context.Context, opts *Options) (*Client, error) {
	c := &Client{done: make(chan struct{}), subs: map[int]*Subscription{}, changed: make(chan struct{}),
		wake: make(chan struct{}, 1), pubSig: make(chan struct{}, 1)}
	if opts != nil {
		c.opts = *opts
	}
	if err := c.opts.fill(); err != nil {
		return nil, err
	}
	for _, t := range c.opts.Transports {
		switch t.(type) {
		case WS, SSE, Stream, LongPoll, Poll:
		default:
			return nil, errors.New("comet: Connect: transport " + strconv.Quote(t.Name()) + " cannot carry a session")
		}
	}
	if !c.opts.From.IsZero() {
		return nil, errors.New("comet: Connect: Options.From is per subscription (SubscribeOptions.From)")
	}
	var k [9]byte
	rand.Read(k[:])
	c.keys = hex.EncodeToString(k[:]) + "-"
	var pk [16]byte
	rand.Read(pk[:])
	c.pkey = base64.RawURLEncoding.EncodeToString(pk[:])
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.active = c.opts.Transports[0].Name()
	c.pubsWG.Add(1)
	go c.publisher()
	if c.tokens = newTokenSource(c.opts.Token); c.tokens != nil {
		c.pubsWG.Add(1)
		go func() { defer c.pubsWG.Done(); c.tokens.keepFresh(c.ctx) }()
	}
	go c.run()
	return c, nil
}

// fill applies the defaults shared by Subscribe and Connect.
func (o *Options) fill() error {
	if o.URL == "" {
		loc := js.Global().Get("location")
		if loc.IsUndefined() || loc.Get("origin").Type() != js.TypeString {
			return errors.New("comet: Options.URL is required outside a page")
		}
		o.URL = loc.Get("origin").String()
	}
	o.URL = strings.TrimRight(o.URL, "/")
	if len(o.Transports) == 0 {
		o.Transports = defaultTransports()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Silence <= 0 {
		o.Silence = 2*o.Heartbeat + time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 10 * time.Second
	}
	if o.Probe <= 0 {
		o.Probe = 10 * time.Second
	}
	return nil
}

// signal wakes everyone waiting for a change of link state. Call with mu
// held.
func (c *Client) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Subscribe follows topic on the client's connection, without a new
// connection. It returns at once; the subscription is confirmed by the
// server in the background (Next reports an *UnconfirmedError when it is
// not, within Options.ConfirmTimeout, and the client switches transport).
// ctx bounds the subscription's life.
func (c *Client) Subscribe(ctx context.Context, topic string, opts *SubscribeOptions) (*Subscription, error) {
	return c.subscribe(ctx, topic, opts, nil, nil)
}

// subscribe is Subscribe; package Subscribe passes its reference to the
// shared client and its OnSwitch, called first with the active transport.
func (c *Client) subscribe(ctx context.Context, topic string, opts *SubscribeOptions, ref *shareRef, onSwitch func(Switch)) (*Subscription, error) {
	if !ValidTopic(topic) {
		return nil, ErrTopic
	}
	var so SubscribeOptions
	if opts != nil {
		so = *opts
	}
	if so.QueueSize <= 0 {
		so.QueueSize = c.opts.QueueSize
	}
	s := &Subscription{topic: topic, client: c, done: make(chan struct{}), queue: make(chan Message, so.QueueSize),
		notice: make(chan error, 1), presence: make(chan PresenceEvent, 256), cur: so.From, appCur: so.From}
	s.joins = so.Presence
	s.ref, s.onSwitch = ref, onSwitch
	if onSwitch != nil { // the first call, before any switch reaches s
		s.swMu.Lock()
		defer s.swMu.Unlock()
	}
	if so.From.IsZero() && so.Oldest {
		s.from = wire.FromOldest
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClientClosed
	}
	if len(c.subs) >= wire.MaxSessionTopics {
		c.mu.Unlock()
		return nil, &CommandError{Op: wire.OpSubscribe, Topic: topic, Code: wire.CodeTooMany, Message: "at most " + strconv.Itoa(wire.MaxSessionTopics) + " topics per session"}
	}
	for {
		c.lastT = c.lastT%wire.MaxSessionTopics + 1
		if c.subs[c.lastT] == nil {
			break
		}
	}
	s.t = c.lastT
	c.subs[s.t] = s
	s.active = c.active
	if l := c.link; l != nil && l.hello && !l.poll {
		c.askLocked(l, s)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	stop := context.AfterFunc(ctx, func() { c.remove(s, ErrClosed, true) })
	s.cancel = func() { stop(); c.remove(s, ErrClosed, true) }
	if onSwitch != nil {
		onSwitch(Switch{To: s.active, Cursor: so.From})
	}
	return s, nil
}

// askLocked sends the subscribe command of s on l. Call with mu held.
func (c *Client) askLocked(l *link, s *Subscription) {
	s.askedGen, s.askedAt = l.gen, time.Now()
	l.sendLocked(s.subCmd())
}

// subCmd is the subscribe command of s, from where it stands.
func (s *Subscription) subCmd() wire.Command {
	return wire.Command{Op: wire.OpSubscribe, T: s.t, Topic: s.topic, From: s.fromText(), Presence: s.joins}
}

// fromText is the wire From of s: its cursor, or how it starts.
func (s *Subscription) fromText() string {
	if !s.cur.IsZero() {
		return s.cur.String()
	}
	return s.from
}

// remove ends s with err: it leaves the session (unsub) and closes done.
func (c *Client) remove(s *Subscription, err error, unsub bool) {
	c.mu.Lock()
	if c.subs[s.t] != s {
		c.mu.Unlock()
		return
	}
	delete(c.subs, s.t)
	if l := c.link; unsub && l != nil && l.hello && !l.poll && s.askedGen == l.gen {
		l.sendLocked(wire.Command{Op: wire.OpUnsubscribe, T: s.t})
	}
	if l := c.link; unsub && l != nil && l.poll && s.joins && s.askedGen == l.gen {
		c.pollLeaveLocked(l.creds, []string{s.topic})
	}
	c.mu.Unlock()
	s.finish(err)
	if s.ref != nil {
		s.ref.release() // before done: Close waits for the shared client after it
	}
	close(s.done)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Active returns the name of the transport in use (or being tried).
func (c *Client) Active() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// Err returns why the last connection failed, or nil while the current one
// is confirmed. An *UnconfirmedError says the server (or the browser's
// connection pool) did not answer in time.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Stats returns the counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	st := c.stats
	c.mu.Unlock()
	st.Tokens = c.tokens.fetches()
	return st
}

// Close ends every subscription and publish and the connection, and waits
// until everything is released. It is idempotent.
func (c *Client) Close() {
	c.closeSubs()
	c.cancel()
	<-c.done
	c.pubsWG.Wait()
	c.leavesWG.Wait()
}

// closeSubs ends every subscription with ErrClosed and refuses new ones.
func (c *Client) closeSubs() {
	c.mu.Lock()
	c.closed = true
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	for _, s := range subs {
		c.remove(s, ErrClosed, true)
	}
}

// dropUpgrade closes a probe's connection that was not taken over.
func (c *Client) dropUpgrade(probe chan *upgrade) {
	select {
	case up := <-probe:
		up.conn.close()
		c.opened(-1)
		up.l.cancel(errUpgrade)
	default:
	}
}

// switchTo reports a change of transport.
func (c *Client) switchTo(from, to string, err error) {
	c.mu.Lock()
	c.active = to
	if from != "" {
		c.stats.Switches++
		if errors.Is(err, errUpgrade) {
			c.stats.Upgrades++
		}
	}
	var calls []func()
	for _, s := range c.subs {
		s.mu.Lock()
		s.active = to
		if from != "" {
			s.stats.Switches++
		}
		if f := s.onSwitch; f != nil && from != "" {
			sw := Switch{From: from, To: to, Err: err, Cursor: s.appCur}
			calls = append(calls, func() { s.swMu.Lock(); defer s.swMu.Unlock(); f(sw) })
		}
		s.mu.Unlock()
	}
	c.mu.Unlock()
	if c.opts.OnSwitch != nil {
		c.opts.OnSwitch(Switch{From: from, To: to, Err: err})
	}
	for _, f := range calls {
		f()
	}
}

// upgrade is a probe's result: a better transport, connected and greeted.
type upgrade struct {
	i    int
	conn sconn
	l    *link
}

// run is the engine: one link at a time; on failure the next transport,
// after a fallback probes of the better ones.
func (c *Client) run() {
	defer close(c.done)
	defer c.closeSubs() // when ctx ends without Close
	ts := c.opts.Transports
	i, rounds := 0, 0
	var up *upgrade
	c.switchTo("", ts[0].Name(), nil)
	for {
		progress, err, next := c.runLink(i, up)
		up = nil
		if c.ctx.Err() != nil {
			return
		}
		if next != nil {
			c.switchTo(ts[i].Name(), ts[next.i].Name(), errUpgrade)
			i, up, rounds = next.i, next, 0
			continue
		}
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if refused, expired := authFailure(err); refused || expired {
			if expired {
				c.tokens.expired()
				continue // the same transport, with a fresh token, from the cursors
			}
			if c.tokens.refused() {
				continue
			}
			c.unauthenticated(err)
			return
		}
		var ue *UnconfirmedError
		if progress && !errors.Is(err, ErrSilent) && !errors.As(err, &ue) {
			rounds = 0
			continue // it worked: reconnect the same transport from the cursors
		}
		n := (i + 1) % len(ts)
		if n == 0 {
			rounds++
		}
		if rounds > 0 && n == 0 || len(ts) == 1 {
			d := min(c.opts.Backoff<<min(rounds, 6), 30*time.Second)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-c.ctx.Done():
				t.Stop()
				return
			}
		}
		if ts[n].Name() != ts[i].Name() {
			c.switchTo(ts[i].Name(), ts[n].Name(), err)
		}
		i = n
	}
}

// link is one transport connection of the client (for polls: one run of
// the poll loop).
type link struct {
	gen    uint64
	name   string
	poll   bool // stateless: no commands; presence by parameters (pollpres.go)
	creds  bool // polls: the transport's WithCredentials
	isWS   bool
	ctx    context.Context
	cancel context.CancelCauseFunc

	// under Client.mu
	hello    bool
	session  string
	lastSeen time.Time
	out      []wire.Command
	outSig   chan struct{}
	waits    map[uint64]chan wire.Frame // answers to pub and who, by command ID
	progress bool
	silence  time.Duration // the server's heartbeat (hello) allows this much quiet
}

// setHeartbeat widens the link's silence bound to the heartbeat (ms) the
// server announced, if it is longer than the one asked for.
func (l *link) setHeartbeat(ms int64) {
	if ms > 0 {
		l.silence = max(l.silence, 2*time.Duration(ms)*time.Millisecond+time.Second)
	}
}

// sendLocked queues cmd for the link's sender. Call with Client.mu held.
func (l *link) sendLocked(cmd wire.Command) {
	l.out = append(l.out, cmd)
	select {
	case l.outSig <- struct{}{}:
	default:
	}
}

// sconn is one session connection of a stream transport (WS, SSE, Stream).
type sconn interface {
	// next returns the next lines (one frame or more), each ending in "\n"
	// or at the end of the slice.
	next(ctx context.Context) ([]byte, error)
	// send delivers commands to the session.
	send(ctx context.Context, cmds []wire.Command) error
	close()
}

// sessionDialer is a stream transport able to carry a session. subs are
// subscribe commands to put in the URL (SSE, Stream) and what the dialer
// put there is returned.
type sessionDialer interface {
	dialSession(ctx context.Context, c *Client, l *link, subs []wire.Command) (sconn, []wire.Command, error)
}

func (c *Client) newLink(name string) *link {
	l := &link{name: name, outSig: make(chan struct{}, 1), waits: map[uint64]chan wire.Frame{}, silence: c.opts.Silence}
	l.ctx, l.cancel = context.WithCancelCause(c.ctx)
	c.mu.Lock()
	c.gen++
	l.gen = c.gen
	l.lastSeen = time.Now()
	c.stats.Connections++
	c.mu.Unlock()
	return l
}

// opened counts a connection open (+1) or closed (-1).
func (c *Client) opened(d int) {
	c.mu.Lock()
	c.stats.Open += d
	c.stats.MaxOpen = max(c.stats.MaxOpen, c.stats.Open)
	c.mu.Unlock()
}

// runLink runs transport i once (or the connection a probe made). progress
// says whether it was confirmed and carried something; next is set when a
// probe found a better transport.
func (c *Client) runLink(i int, up *upgrade) (progress bool, err error, next *upgrade) {
	tr := c.opts.Transports[i]
	switch t := tr.(type) {
	case LongPoll:
		return c.runPolls(i, t.WithCredentials, true, 0, newRetrier(t.Backoff, t.MaxFailures), newBatchSize(t.MaxBatch))
	case Poll:
		iv := t.Interval
		if iv <= 0 {
			iv = 2 * time.Second
		}
		return c.runPolls(i, t.WithCredentials, false, iv, newRetrier(t.Backoff, t.MaxFailures), newBatchSize(t.MaxBatch))
	}
	var l *link
	var conn sconn
	if up != nil {
		l, conn = up.l, up.conn
	} else {
		l = c.newLink(tr.Name())
		l.isWS = tr.Name() == "ws"
		var urlSubs []wire.Command
		if !l.isWS {
			c.mu.Lock()
			for _, s := range c.subs {
				if !s.paused.Load() {
					urlSubs = append(urlSubs, s.subCmd())
				}
			}
			c.mu.Unlock()
		}
		var put []wire.Command
		conn, put, err = tr.(sessionDialer).dialSession(l.ctx, c, l, urlSubs)
		if err != nil {
			l.cancel(err)
			return false, err, nil
		}
		c.opened(1)
		c.mu.Lock()
		now := time.Now()
		for _, cmd := range put {
			if s := c.subs[cmd.T]; s != nil && s.fromText() == cmd.From {
				s.askedGen, s.askedAt = l.gen, now
			}
		}
		c.mu.Unlock()
	}
	defer c.opened(-1)
	defer conn.close()
	defer c.endLink(l)
	probe := make(chan *upgrade, 1)
	handed := false
	defer func() {
		if !handed {
			c.dropUpgrade(probe)
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.cancel(nil)
	wg.Add(2)
	go func() { defer wg.Done(); c.watch(l) }()
	go func() { defer wg.Done(); c.sender(l, conn) }()
	if i > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); c.prober(l, i, probe) }()
	}
	if up != nil { // the probe read the hello already
		c.mu.Lock()
		c.helloLocked(l)
		c.mu.Unlock()
	}
	for {
		b, err := conn.next(l.ctx)
		if err == nil {
			err = wire.SplitLines(b, func(line []byte) error { return c.handleLine(l, line) })
		}
		if err != nil {
			cause := context.Cause(l.ctx)
			c.mu.Lock()
			progress = l.progress
			c.mu.Unlock()
			if errors.Is(cause, errUpgrade) {
				select {
				case up := <-probe:
					handed = true
					return progress, cause, up
				default:
				}
			}
			if cause != nil {
				err = cause
			}
			return progress, err, nil
		}
	}
}

// endLink detaches l: its waiters retry elsewhere.
func (c *Client) endLink(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link == l {
		c.link = nil
		c.signalLocked()
	}
	for id, ch := range l.waits {
		close(ch)
		delete(l.waits, id)
	}
}

// sender writes the link's queued commands in order.
func (c *Client) sender(l *link, conn sconn) {
	for {
		select {
		case <-l.outSig:
		case <-l.ctx.Done():
			return
		}
		c.mu.Lock()
		cmds := l.out
		l.out = nil
		c.mu.Unlock()
		if len(cmds) == 0 {
			continue
		}
		if err := conn.send(l.ctx, cmds); err != nil {
			l.cancel(err)
			return
		}
	}
}

// watch drops l when it is silent past Options.Silence, or when the hello
// or a subscription is not confirmed within Options.ConfirmTimeout.
func (c *Client) watch(l *link) {
	tick := time.NewTicker(min(c.opts.Silence, c.opts.ConfirmTimeout) / 4)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C:
		}
		var err error
		var stalled []*Subscription
		c.mu.Lock()
		now := time.Now()
		switch {
		case !l.hello && now.Sub(start) > c.opts.ConfirmTimeout:
			err = &UnconfirmedError{Transport: l.name, What: "connection", Waited: c.opts.ConfirmTimeout}
			for _, s := range c.subs {
				stalled = append(stalled, s)
			}
		case now.Sub(l.lastSeen) > l.silence:
			err = ErrSilent
		default:
			for _, s := range c.subs {
				if s.askedGen == l.gen && s.confirmedGen != l.gen && now.Sub(s.askedAt) > c.opts.ConfirmTimeout {
					stalled = append(stalled, s)
					if err == nil {
						err = &UnconfirmedError{Transport: l.name, What: "subscription " + strconv.Quote(s.topic), Waited: c.opts.ConfirmTimeout}
					}
				}
			}
		}
		c.mu.Unlock()
		if err != nil {
			for _, s := range stalled {
				s.notify(err)
			}
			l.cancel(err)
			return
		}
	}
}

// helloLocked makes l the client's link and subscribes every subscription
// not already asked for on it. Call with mu held.
func (c *Client) helloLocked(l *link) {
	l.hello = true
	c.link = l
	c.lastErr = nil
	for _, s := range c.subs {
		if s.askedGen != l.gen && !s.paused.Load() {
			c.askLocked(l, s)
		}
	}
	c.signalLocked()
}

// handleLine dispatches one session line of l.
func (c *Client) handleLine(l *link, line []byte) error {
	pl, err := wire.ParseLine(line)
	if err != nil {
		return errProtocol
	}
	c.mu.Lock()
	l.lastSeen = time.Now()
	if pl.IsMessage {
		return c.messageLocked(l, pl) // unlocks
	}
	defer c.mu.Unlock()
	f := pl.Frame
	if !l.hello {
		if f.Op != wire.OpHello {
			return errProtocol
		}
		l.session = f.Session
		l.setHeartbeat(f.Heartbeat)
		if f.Member != nil {
			c.self = *f.Member
		}
		c.helloLocked(l)
		return nil
	}
	switch f.Op {
	case wire.OpHello:
		return errRehello
	case wire.OpSubscribe:
		return c.confirmLocked(l, f)
	case wire.OpGap:
		s := c.subs[f.T]
		if s == nil || s.askedGen != l.gen {
			return nil
		}
		g := wire.Gap{Reason: "unknown"}
		if f.Gap != nil {
			g = *f.Gap
		}
		go c.remove(s, gapError(s.topic, g), false)
		return nil
	case wire.OpUnsubscribe:
		delete(l.waits, f.ID) // the answer to a pause's unsub
		return nil
	case wire.OpPublish, wire.OpPresence:
		if f.Op == wire.OpPresence && f.ID == 0 && l.poll {
			c.pollWhoLocked(l, f)
			return nil
		}
		if ch := l.waits[f.ID]; ch != nil && f.ID != 0 {
			delete(l.waits, f.ID)
			ch <- f
		}
		return nil
	case wire.OpError:
		if ch := l.waits[f.ID]; ch != nil && f.ID != 0 {
			delete(l.waits, f.ID)
			ch <- f
			return nil
		}
		s := c.subs[f.T]
		if s == nil || s.askedGen != l.gen {
			return nil
		}
		if f.Code == wire.CodeUnavailable { // T is freed: ask again in a while, from the cursor
			s.confirmedGen, s.askedAt = 0, time.Now().Add(c.opts.Backoff)
			if l.poll {
				return nil // the next poll asks again
			}
			time.AfterFunc(c.opts.Backoff, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				if c.link == l && c.subs[s.t] == s && s.confirmedGen != l.gen {
					c.askLocked(l, s)
				}
			})
			return nil
		}
		go c.remove(s, &CommandError{Op: wire.OpSubscribe, Topic: s.topic, Code: f.Code, Message: f.Error}, false)
		return nil
	case wire.OpJoin, wire.OpLeave:
		if s := c.subs[f.T]; s != nil && f.Member != nil {
			if l.poll && !f.Presence.IsZero() {
				s.pcur = f.Presence
				if f.Op == wire.OpJoin && f.Member.Client == c.self.Client {
					s.ownJoin, s.pendOwn = true, false
				}
			}
			s.pushPresence(PresenceEvent{Join: f.Op == wire.OpJoin, Member: *f.Member})
		}
		return nil
	}
	return nil // ping, unsub and future frames
}

// confirmLocked applies a "sub" frame: the cursor the subscription starts
// after on l.
func (c *Client) confirmLocked(l *link, f wire.Frame) error {
	s := c.subs[f.T]
	if s == nil || f.Topic != "" && f.Topic != s.topic {
		if s == nil && !l.poll {
			l.sendLocked(wire.Command{Op: wire.OpUnsubscribe, T: f.T}) // closed meanwhile
		}
		return nil
	}
	if s.askedGen != l.gen || !l.poll && s.confirmedGen == l.gen {
		return nil
	}
	if !l.poll {
		s.pcur = wire.Cursor{} // the polls' presence cursor is stale after a connection
	}
	switch {
	case s.cur.IsZero():
		s.cur = f.Cursor
		s.mu.Lock()
		if s.appCur.IsZero() {
			s.appCur = f.Cursor
		}
		s.mu.Unlock()
	case f.Cursor == s.cur:
	case f.Cursor.Epoch == s.cur.Epoch && f.Cursor.Offset < s.cur.Offset:
		s.skip = int(s.cur.Offset - f.Cursor.Offset) // already delivered: skip them
	default:
		return errResume
	}
	s.confirmedLocked(l)
	l.progress = true
	c.signalLocked()
	return nil
}

// confirmedLocked marks s confirmed on l and counts it in s's Stats: a
// new connection carries it (Opens); one after the first on the same
// transport is a reconnect. Call with Client.mu held.
func (s *Subscription) confirmedLocked(l *link) {
	if s.confirmedGen == l.gen {
		return
	}
	s.confirmedGen = l.gen
	s.mu.Lock()
	if s.stats.Opens > 0 && s.lastLink == l.name {
		s.stats.Reconnects++
	}
	s.stats.Opens++
	s.lastLink = l.name
	s.mu.Unlock()
}

// messageLocked delivers one message line; it unlocks mu.
func (c *Client) messageLocked(l *link, pl wire.Line) error {
	s := c.subs[pl.T]
	if s == nil || s.confirmedGen != l.gen {
		c.mu.Unlock()
		return nil // a line of a subscription closed meanwhile
	}
	if s.cur.IsZero() {
		c.mu.Unlock()
		return errProtocol
	}
	if s.skip > 0 {
		s.skip--
		c.stats.Duplicates++
		c.mu.Unlock()
		s.mu.Lock()
		s.stats.Duplicates++
		s.mu.Unlock()
		return nil
	}
	m := Message{Topic: s.topic, Epoch: s.cur.Epoch, Offset: s.cur.Offset + 1, Type: pl.Type, Data: append(json.RawMessage(nil), pl.Data...)}
	select {
	case s.queue <- m:
	default: // the application is behind: never make the other topics wait
		c.pauseLocked(l, s)
		c.mu.Unlock()
		return nil
	}
	s.cur = m.Cursor()
	l.progress = true
	c.mu.Unlock()
	s.mu.Lock()
	s.stats.Messages++
	s.mu.Unlock()
	return nil
}

// pauseLocked takes s off l because its queue is full: the lines of s
// that follow are dropped (s.cur stays after the last one queued), the
// server is told to stop (unsub), and resume subscribes it again from
// s.cur once the application has read half of the queue. Call with mu
// held.
func (c *Client) pauseLocked(l *link, s *Subscription) {
	if s.paused.Load() {
		return
	}
	s.paused.Store(true)
	if !l.poll && s.askedGen == l.gen {
		c.nextID++
		id := c.nextID
		l.waits[id] = make(chan wire.Frame, 1) // swallows the answer, an error included
		l.sendLocked(wire.Command{Op: wire.OpUnsubscribe, ID: id, T: s.t})
	}
	s.askedGen, s.confirmedGen = 0, 0
	s.mu.Lock()
	s.stats.Overflows++
	s.mu.Unlock()
}

// resume subscribes a paused s again, from its cursor, once its queue is
// at most half full.
func (c *Client) resume(s *Subscription) {
	if !s.paused.Load() || len(s.queue) > cap(s.queue)/2 {
		return
	}
	c.mu.Lock()
	if c.subs[s.t] != s || !s.paused.Load() {
		c.mu.Unlock()
		return
	}
	s.paused.Store(false)
	if l := c.link; l != nil && l.hello && !l.poll {
		c.askLocked(l, s)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}: // a poll loop asks for it at once
	default:
	}
}

// prober tries the transports better than i in the background, every
// Options.Probe (growing by half after each failure, up to 16 times). When one
// connects and greets, it hands the connection over and ends l.
func (c *Client) prober(l *link, i int, out chan<- *upgrade) {
	wait := c.opts.Probe
	for {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return
		}
		for j := 0; j < i; j++ {
			d, ok := c.opts.Transports[j].(sessionDialer)
			if !ok {
				continue
			}
			c.mu.Lock()
			c.stats.Probes++
			c.mu.Unlock()
			nl := c.newLink(c.opts.Transports[j].Name())
			nl.isWS = nl.name == "ws"
			if up := c.tryProbe(l, nl, d); up != nil {
				up.i = j
				out <- up
				l.cancel(errUpgrade)
				return
			}
			if l.ctx.Err() != nil {
				return
			}
		}
		wait = min(wait*3/2, c.opts.Probe*16)
	}
}

// tryProbe dials nl without subscriptions and waits for its hello.
func (c *Client) tryProbe(l, nl *link, d sessionDialer) *upgrade {
	ctx, cancel := context.WithTimeout(l.ctx, c.opts.ConfirmTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { nl.cancel(ctx.Err()) })
	defer stop()
	conn, _, err := d.dialSession(nl.ctx, c, nl, nil)
	if err != nil {
		nl.cancel(err)
		return nil
	}
	c.opened(1)
	for {
		b, err := conn.next(nl.ctx)
		if err != nil {
			break
		}
		var hello *wire.Frame
		wire.SplitLines(b, func(line []byte) error {
			if pl, err := wire.ParseLine(line); err == nil && !pl.IsMessage && pl.Frame.Op == wire.OpHello {
				hello = &pl.Frame
			}
			return errLine // only the first line counts
		})
		if hello == nil {
			break
		}
		if !stop() || ctx.Err() != nil {
			break
		}
		nl.session = hello.Session
		nl.setHeartbeat(hello.Heartbeat)
		if hello.Member != nil {
			c.mu.Lock()
			c.self = *hello.Member
			c.mu.Unlock()
		}
		return &upgrade{conn: conn, l: nl}
	}
	conn.close()
	c.opened(-1)
	nl.cancel(errUpgrade)
	return nil
}

var errLine = errors.New("stop")

// pushPresence queues e, dropping the oldest event when the queue is full.
func (s *Subscription) pushPresence(e PresenceEvent) {
	for {
		select {
		case s.presence <- e:
			return
		default:
		}
		select {
		case old := <-s.presence:
			e.Dropped += old.Dropped + 1
		default:
		}
	}
}

// notify hands Next a non-terminal error (the latest wins).
func (s *Subscription) notify(err error) {
	for {
		select {
		case s.notice <- err:
			return
		default:
		}
		select {
		case <-s.notice:
		default:
		}
	}
}
