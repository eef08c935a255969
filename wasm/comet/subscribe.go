//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

var (
	errOrder  = errors.New("comet: message out of order (protocol error)")
	errResume = errors.New("comet: feed did not start at the cursor (protocol error)")
)

// Options tunes Subscribe, SubscribeFeed and Connect. A nil *Options
// means the defaults.
type Options struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:8080".
	// Defaults to the page's origin.
	URL string
	// Transports are tried in order. Defaults to WS, SSE, Stream,
	// LongPoll, Poll, each with its defaults. A Transport other than
	// these five cannot carry a session: Connect refuses it, and Subscribe
	// then runs SubscribeFeed.
	Transports []Transport
	// From is the cursor to start after. Defaults to the zero Cursor:
	// messages published from now on. Subscribe and SubscribeFeed only (a
	// Client's subscriptions take SubscribeOptions).
	From Cursor
	// Private makes Subscribe open a connection for this subscription
	// alone instead of sharing the one of every Subscribe with the same
	// connection settings. Connect and SubscribeFeed ignore it. Defaults
	// to false (shared).
	Private bool
	// Heartbeat is the interval of the server's signs of life. Defaults
	// to 15s.
	Heartbeat time.Duration
	// Silence is how long a transport may deliver nothing at all (no
	// message, no heartbeat) before Subscribe drops it and falls back to
	// the next. Defaults to twice the heartbeat plus one second.
	Silence time.Duration
	// QueueSize bounds the messages waiting for Next. Defaults to 1024.
	// A full queue makes SubscribeFeed's transport wait; on a session
	// (Subscribe, Connect) it takes the topic off the connection until
	// Next catches up (see SubscribeOptions.QueueSize). Nothing is
	// dropped either way.
	QueueSize int
	// Backoff is the wait after every transport failed in a row; it
	// doubles up to 30s. Defaults to 500ms.
	Backoff time.Duration
	// OnSwitch, if set, is called on the subscription's (or client's)
	// goroutine when a transport becomes active: first with From "", then
	// at every switch. Subscribe calls it for its subscription's
	// connection (shared or not), with the subscription's cursor; it does
	// not count as a connection setting. It runs on the connection's
	// goroutine: keep it short (hand off, do not wait).
	OnSwitch func(Switch)
	// ConfirmTimeout bounds the wait for the server's confirmation of a
	// Client's connection (its "hello") and of each subscription (its
	// "sub" frame); past it the Client reports an *UnconfirmedError and
	// switches transport. Client only. Defaults to 10s.
	ConfirmTimeout time.Duration
	// Probe is how long a Client stays on a fallback transport before it
	// tries the better ones again in the background (growing by half after each
	// failed try, up to 16 times). Client only. Defaults to 10s.
	Probe time.Duration
	// Token, if set, fetches the token the server's -token-secret-file
	// (or Authorizer) wants. Every connection and request carries the
	// current one: as "Authorization: Bearer" on XHRs, as the token query
	// parameter of EventSource and WebSocket URLs. A JWT is replaced when
	// a quarter of its lifetime (at most 30s) is left, read from its exp
	// claim unverified; any token is replaced after a 401. A connection
	// the server ends at the token's exp reconnects with the new one from
	// its cursors. A fresh token refused too ends the Client (or the
	// Subscription) with ErrUnauthenticated. Defaults to none.
	Token func(ctx context.Context) (string, error)
}

// Switch reports a change of transport.
type Switch struct {
	From, To string // transport names; From is "" for the first
	Err      error  // why From was dropped (nil for the first)
	Cursor   Cursor // where To resumes: the subscription's cursor (zero for a Client's own OnSwitch: its topics each resume from their own)
}

// Stats counts what a subscription did. On a session (Subscribe, or a
// Client's subscription) the connection may be shared with other topics;
// the counts are this subscription's view of it.
type Stats struct {
	Messages   int // delivered to the queue
	Duplicates int // messages skipped because they were already delivered (after a resume)
	// Reconnects: SubscribeFeed's runs of the same transport again, from
	// the cursor. On a session: confirmations of this topic on another
	// connection of the same transport (a new poll loop included), or
	// after an overflow.
	Reconnects int
	// Opens: SubscribeFeed's "_open" envelopes, one per connection the
	// server started (browser reconnects included). On a session: the
	// connections that confirmed this topic (a re-subscription after an
	// overflow included).
	Opens    int
	Switches int // changes of transport (of the shared connection, while this subscription was on it)
	// Overflows counts the times a session subscription's queue was full:
	// the topic left the connection and was subscribed again from its
	// cursor when Next caught up, so the other topics never waited.
	// Always 0 for SubscribeFeed, whose full queue makes its own
	// connection wait.
	Overflows int
}

// Subscription follows one topic. Read it with Next or All; Close it when
// done.
type Subscription struct {
	topic  string
	opts   Options
	queue  chan Message
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the engine stops

	mu       sync.Mutex
	cur      Cursor // after the last message queued
	appCur   Cursor // after the last message Next returned
	active   string
	stats    Stats
	err      error        // terminal
	tokens   *tokenSource // Options.Token (Subscribe)
	lastSeen time.Time
	blocked  bool

	// A Client's subscription (client != nil); the fields below are
	// guarded by client.mu.
	client       *Client
	t            int       // topic number in the session
	from         string    // wire From while cur is zero: "" or wire.FromOldest
	askedGen     uint64    // link the subscribe was sent on
	askedAt      time.Time // when
	confirmedGen uint64    // link that confirmed it
	skip         int       // lines already delivered, to skip
	joins        bool      // SubscribeOptions.Presence
	notice       chan error
	presence     chan PresenceEvent
	paused       atomic.Bool  // the queue was full: off the connection until Next catches up
	lastLink     string       // transport of the last confirmation (under mu)
	onSwitch     func(Switch) // Subscribe's Options.OnSwitch
	swMu         sync.Mutex   // orders the onSwitch calls
	ref          *shareRef    // Subscribe: the client it holds a reference to
}

// ValidTopic reports whether name is a valid topic name: 1-128 of A-Z a-z
// 0-9 . _ - : / (the server's rule).
func ValidTopic(name string) bool { return wire.ValidTopic(name) }

// ErrTopic is returned by Subscribe for an invalid topic name.
var ErrTopic = errors.New("comet: bad topic name")

// SubscribeFeed follows topic over a connection of its own, on the
// server's single-topic endpoints (/ws/realtime, /realtime/sse, stream,
// longpoll, poll): the Transports' Run, one Feed at a time, resumed from
// the cursor. It is what Subscribe runs when Options.Transports holds a
// Transport of the application's own; use it directly for a
// Transport-level test or benchmark, or for a server that only serves the
// single-topic endpoints. Each call holds one connection (see the
// package's caveats). It returns at once; the first transport connects in
// the background. ctx bounds the subscription's life.
func SubscribeFeed(ctx context.Context, topic string, opts *Options) (*Subscription, error) {
	if !ValidTopic(topic) {
		return nil, ErrTopic
	}
	s := &Subscription{topic: topic, done: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if err := o.fill(); err != nil {
		return nil, err
	}
	s.cur, s.appCur = o.From, o.From
	s.tokens = newTokenSource(o.Token)
	s.queue = make(chan Message, o.QueueSize)
	s.ctx, s.cancel = context.WithCancel(ctx)
	go s.run()
	return s, nil
}

// defaultTransports is the order of the realtime issue: WebSocket, SSE,
// HTTP streaming, long polling, polling.
func defaultTransports() []Transport {
	return []Transport{WS{}, SSE{}, Stream{}, LongPoll{}, Poll{}}
}

// run is the engine: one transport at a time, resumed from the cursor.
func (s *Subscription) run() {
	defer close(s.done)
	ts := s.opts.Transports
	i, rounds := 0, 0
	s.switchTo("", ts[0].Name(), nil)
	for {
		progress, err := s.runOnce(ts[i])
		if s.ctx.Err() != nil {
			s.finish(ErrClosed)
			return
		}
		var gap *GapError
		if errors.As(err, &gap) {
			s.finish(gap)
			return
		}
		if refused, expired := authFailure(err); expired || refused && s.tokens.refused() {
			s.tokens.expired()
			s.mu.Lock()
			s.stats.Reconnects++
			s.mu.Unlock()
			continue // again with a fresh token, from the cursor
		} else if refused {
			s.finish(errors.Join(ErrUnauthenticated, err))
			return
		}
		if progress && !errors.Is(err, ErrSilent) {
			rounds = 0
			s.mu.Lock()
			s.stats.Reconnects++
			s.mu.Unlock()
			continue // it worked: reconnect the same transport from the cursor
		}
		next := (i + 1) % len(ts)
		if next == 0 {
			rounds++
		}
		if rounds > 0 && next == 0 || len(ts) == 1 {
			d := min(s.opts.Backoff<<min(rounds, 6), 30*time.Second)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				s.finish(ErrClosed)
				return
			}
		}
		if ts[next].Name() != ts[i].Name() {
			s.switchTo(ts[i].Name(), ts[next].Name(), err)
		} else {
			s.mu.Lock()
			s.stats.Reconnects++
			s.mu.Unlock()
		}
		i = next
	}
}

func (s *Subscription) switchTo(from, to string, err error) {
	s.mu.Lock()
	s.active = to
	if from != "" {
		s.stats.Switches++
	}
	cur := s.cur
	s.mu.Unlock()
	if s.opts.OnSwitch != nil {
		s.opts.OnSwitch(Switch{From: from, To: to, Err: err, Cursor: cur})
	}
}

// runOnce runs t once, with a watchdog for silence. progress reports
// whether a message was delivered.
func (s *Subscription) runOnce(t Transport) (progress bool, err error) {
	ctx, cancel := context.WithCancelCause(s.ctx)
	defer cancel(nil)
	s.mu.Lock()
	s.lastSeen = time.Now()
	from := s.cur
	s.mu.Unlock()
	watch := make(chan struct{})
	defer close(watch)
	go func() {
		tick := time.NewTicker(s.opts.Silence / 4)
		defer tick.Stop()
		for {
			select {
			case <-watch:
				return
			case <-tick.C:
				s.mu.Lock()
				silent := !s.blocked && time.Since(s.lastSeen) > s.opts.Silence
				s.mu.Unlock()
				if silent {
					cancel(ErrSilent)
					return
				}
			}
		}
	}()
	var delivered atomic.Bool // a transport may call Deliver from its own goroutine
	f := Feed{URL: s.opts.URL, Topic: s.topic, From: from, Heartbeat: s.opts.Heartbeat}
	if s.tokens != nil {
		f.Token = s.tokens.get
	}
	f.Deliver = func(m Message) error {
		p, err := s.accept(ctx, m)
		if p {
			delivered.Store(true)
		}
		return err
	}
	err = t.Run(ctx, f)
	progress = delivered.Load()
	if cause := context.Cause(ctx); errors.Is(cause, ErrSilent) {
		err = ErrSilent
	}
	return progress, err
}

// accept takes one envelope from a transport: it checks the order, skips
// what was already delivered, and queues messages (waiting for room).
func (s *Subscription) accept(ctx context.Context, m Message) (queued bool, err error) {
	s.mu.Lock()
	s.lastSeen = time.Now()
	cur := s.cur
	s.mu.Unlock()
	switch {
	case m.Type == TypeGap:
		return false, gapFrom(m)
	case m.Type == TypeOpen:
		s.mu.Lock()
		s.stats.Opens++
		s.mu.Unlock()
		if cur.IsZero() {
			s.mu.Lock()
			s.cur, s.appCur = m.Cursor(), m.Cursor()
			s.mu.Unlock()
			return false, nil
		}
		if m.Cursor() != cur {
			return false, errResume
		}
		return false, nil
	case m.IsControl():
		return false, nil // "_ping" and future control types
	}
	if !cur.IsZero() {
		if m.Epoch != cur.Epoch || m.Offset > cur.Offset+1 {
			return false, errOrder
		}
		if m.Offset <= cur.Offset {
			s.mu.Lock()
			s.stats.Duplicates++
			s.mu.Unlock()
			return false, nil
		}
	}
	s.mu.Lock()
	s.blocked = true
	s.mu.Unlock()
	select {
	case s.queue <- m:
	case <-ctx.Done():
		s.mu.Lock()
		s.blocked = false
		s.mu.Unlock()
		return false, ctx.Err()
	}
	s.mu.Lock()
	s.blocked = false
	s.lastSeen = time.Now()
	s.cur = m.Cursor()
	s.stats.Messages++
	s.mu.Unlock()
	return true, nil
}

func (s *Subscription) finish(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Next returns the next message. After the last queued message it returns
// the terminal error: a *GapError, or ErrClosed after Close or the end of
// Subscribe's context. When ctx ends first it returns ctx.Err().
//
// A Client's subscription also returns an *UnconfirmedError
// (errors.Is(err, ErrUnconfirmed)) when the server did not confirm it in
// time. That one is not terminal: the client switches transport, and the
// next call to Next goes on with the messages, none lost or repeated.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	select {
	case m := <-s.queue:
		return s.took(m), nil
	default:
	}
	select {
	case m := <-s.queue:
		return s.took(m), nil
	case err := <-s.notice:
		return Message{}, err
	case <-s.done:
		select {
		case m := <-s.queue:
			return s.took(m), nil
		default:
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return Message{}, s.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

func (s *Subscription) took(m Message) Message {
	s.mu.Lock()
	s.appCur = m.Cursor()
	s.mu.Unlock()
	if s.client != nil {
		s.client.resume(s)
	}
	return m
}

// All iterates over the messages until Next fails; the last pair carries
// the error unless it is ErrClosed or ctx's end. An *UnconfirmedError is
// yielded and the iteration goes on (break to stop it).
func (s *Subscription) All(ctx context.Context) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		for {
			m, err := s.Next(ctx)
			if err != nil {
				if errors.Is(err, ErrUnconfirmed) && ctx.Err() == nil {
					if !yield(Message{}, err) {
						return
					}
					continue
				}
				if !errors.Is(err, ErrClosed) && ctx.Err() == nil {
					yield(Message{}, err)
				}
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

// Active returns the name of the transport in use.
func (s *Subscription) Active() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Cursor returns the position after the last message Next returned (or
// where the subscription started): resume there (Options.From) to
// continue without loss or repetition. It is zero until the first
// transport told where "now" is.
func (s *Subscription) Cursor() Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appCur
}

// Stats returns the counters.
func (s *Subscription) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close stops the subscription and waits until its transport has released
// everything (for the last Subscribe on a shared connection: until that
// connection is closed). Messages already queued can still be read. It is
// idempotent.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
	if s.ref != nil {
		s.ref.wait()
	}
}
