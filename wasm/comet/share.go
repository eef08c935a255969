//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"sync"
	"unsafe"
)

// sessionTopics is how many Subscribe calls share one Client: the
// server's default bound on the topics of a session (its SessionTopics).
const sessionTopics = 256

// Subscribe follows topic. Every Subscribe of the page with the same
// connection settings (Options.URL, Transports, Heartbeat, Silence,
// Backoff, ConfirmTimeout, Probe and the same Token func) shares one
// Client, so 8 or 200 topics hold one connection (a session carries 256:
// the 257th opens a second); the Client is opened
// by the first such Subscribe and closed when the last of its
// subscriptions ends. Options.Private gives the subscription a connection
// of its own; a Transport of the application's own (not WS, SSE, Stream,
// LongPoll, Poll) or a WS with a Path runs SubscribeFeed, one connection
// per call, on the single-topic endpoints.
//
// It returns at once; the connection comes up in the background (or is
// already up). ctx bounds the subscription's life, not the connection's.
// Options.From and QueueSize are the subscription's own; Options.OnSwitch
// is called for the subscription: first with From "" before Subscribe
// returns, then at every switch of its connection.
func Subscribe(ctx context.Context, topic string, opts *Options) (*Subscription, error) {
	if !ValidTopic(topic) {
		return nil, ErrTopic
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.fill(); err != nil {
		return nil, err
	}
	if !sessionTransports(o.Transports) {
		return SubscribeFeed(ctx, topic, opts)
	}
	so := &SubscribeOptions{From: o.From, QueueSize: o.QueueSize}
	onSwitch := o.OnSwitch
	o.From, o.QueueSize, o.OnSwitch = Cursor{}, 0, nil
	for try := 0; ; try++ {
		ref, err := pagePool.get(o)
		if err != nil {
			return nil, err
		}
		s, err := ref.e.c.subscribe(ctx, topic, so, ref, onSwitch)
		if err == nil {
			return s, nil
		}
		ref.release()
		if !errors.Is(err, ErrClientClosed) || try > 0 {
			return nil, err
		}
		// The shared client ended by itself meanwhile (ErrUnauthenticated):
		// once more, on a new one.
	}
}

// sessionTransports reports whether a Client can carry ts (Subscribe's
// choice between a session and SubscribeFeed).
func sessionTransports(ts []Transport) bool {
	for _, t := range ts {
		switch t := t.(type) {
		case WS:
			if t.Path != "" {
				return false
			}
		case SSE, Stream, LongPoll, Poll:
		default:
			return false
		}
	}
	return true
}

// pool holds the Clients that Subscribe shares.
type pool struct {
	mu      sync.Mutex
	entries []*poolEntry
}

type poolEntry struct {
	opts Options // filled; From, QueueSize, OnSwitch cleared
	c    *Client
	refs int
}

// pagePool is the page's shared connections: the package's one mutable
// global, as a browser's own connection pool is per page. It holds only
// Clients with live subscriptions.
var pagePool pool

// get returns a reference to the Client for o: a shared one, or a new
// one (always new for o.Private).
func (p *pool) get(o Options) (*shareRef, error) {
	if o.Private {
		c, err := Connect(context.Background(), &o)
		if err != nil {
			return nil, err
		}
		return &shareRef{e: &poolEntry{opts: o, c: c, refs: 1}}, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range p.entries {
		if !sameConnection(e.opts, o) || e.refs >= sessionTopics {
			continue // a full session: the next one opens another connection
		}
		if e.c.isClosed() {
			p.entries = append(p.entries[:i], p.entries[i+1:]...)
			break
		}
		e.refs++
		return &shareRef{p: p, e: e}, nil
	}
	c, err := Connect(context.Background(), &o)
	if err != nil {
		return nil, err
	}
	e := &poolEntry{opts: o, c: c, refs: 1}
	p.entries = append(p.entries, e)
	return &shareRef{p: p, e: e}, nil
}

// shared returns the number of shared Clients (tests).
func (p *pool) shared() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}

// sameConnection reports whether a and b (both filled) ask for the same
// connection.
func sameConnection(a, b Options) bool {
	if a.URL != b.URL || a.Heartbeat != b.Heartbeat || a.Silence != b.Silence || a.Backoff != b.Backoff ||
		a.ConfirmTimeout != b.ConfirmTimeout || a.Probe != b.Probe || funcID(a.Token) != funcID(b.Token) ||
		len(a.Transports) != len(b.Transports) {
		return false
	}
	for i := range a.Transports {
		if a.Transports[i] != b.Transports[i] { // this package's five: comparable structs
			return false
		}
	}
	return true
}

// funcID is the identity of a func value (nil for nil): two Subscribe
// calls share a connection only when they pass the same Token func, not
// two closures of the same code.
func funcID(f func(context.Context) (string, error)) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&f))
}

// shareRef is one subscription's hold on a Client of the pool (or on its
// private one, p nil).
type shareRef struct {
	p    *pool
	e    *poolEntry
	once sync.Once
	last bool // this release closed the Client
}

// release drops the reference once; the last one cancels the Client
// (without waiting: it may run on the Client's own goroutines).
func (r *shareRef) release() {
	r.once.Do(func() {
		last := true
		if r.p != nil {
			r.p.mu.Lock()
			r.e.refs--
			last = r.e.refs == 0
			if last {
				for i, e := range r.p.entries {
					if e == r.e {
						r.p.entries = append(r.p.entries[:i], r.p.entries[i+1:]...)
						break
					}
				}
			}
			r.p.mu.Unlock()
		}
		if last {
			r.last = true
			r.e.c.closeSubs()
			r.e.c.cancel()
		}
	})
}

// wait releases the reference and, if it was the last, waits until the
// Client has released everything.
func (r *shareRef) wait() {
	r.release()
	if r.last {
		<-r.e.c.done
		r.e.c.pubsWG.Wait()
	}
}

// isClosed reports whether c refuses new subscriptions.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
