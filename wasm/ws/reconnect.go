//go:build js && wasm

package ws

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// State is the connection state of a Client.
type State int

// The states of a Client, in the order a connection goes through them.
const (
	// StateConnecting: dialing (Attempt counts from 1).
	StateConnecting State = iota + 1
	// StateOpen: connected; OnOpen has run and the queue was flushed.
	StateOpen
	// StateWaiting: disconnected, waiting Delay before the next attempt.
	StateWaiting
	// StateClosed: Close was called, its context ended, MaxAttempts was
	// reached or Retry said no. Final.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateWaiting:
		return "waiting"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// StateEvent reports one state change of a Client.
type StateEvent struct {
	State State
	// Attempt counts dials since the last open connection, from 1:
	// StateConnecting carries this dial's number, StateWaiting the number
	// of the dial the pause precedes (1 right after a connection drops),
	// StateClosed the dials made, StateOpen 0.
	Attempt int
	Delay   time.Duration // StateWaiting: the pause before the next attempt
	Err     error         // why the last connection or attempt ended, if it did
}

// ReconnectOptions configures Reconnect. The zero value (or nil) uses every
// default.
type ReconnectOptions struct {
	// Dial configures every connection.
	Dial *DialOptions
	// DialTimeout bounds one dial. Defaults to 10s.
	DialTimeout time.Duration
	// MinDelay and MaxDelay bound the pause between attempts: the n-th
	// consecutive failure waits MinDelay × Factor^(n-1), at most MaxDelay,
	// then spread by Jitter. Defaults 1s and 10s, Factor 1.3, Jitter 0.5
	// (socket.io waits 1–5 s with jitter 0.5; partysocket 1–10 s ×1.3).
	MinDelay, MaxDelay time.Duration
	Factor             float64
	// Jitter spreads each pause uniformly over ±Jitter of itself, so
	// clients that lost the same server do not return together. 0 means
	// the default 0.5; use a negative value for none.
	Jitter float64
	// MaxAttempts stops after this many consecutive failed attempts
	// (StateClosed). Defaults to 0: never stop.
	MaxAttempts int
	// Retry decides, after a connection closes, whether to reconnect.
	// Defaults to always, except after StatusKicked (4001).
	Retry func(err error) bool
	// SendQueue and SendQueueBytes bound the messages Write holds while
	// disconnected; beyond them Write returns ErrSendQueueFull. Defaults 256
	// messages and 1 MiB.
	SendQueue      int
	SendQueueBytes int
	// OnOpen runs on every new connection before queued messages are
	// sent: the place to log in, rejoin rooms or resume from a cursor. An
	// error closes the connection and counts as a failed attempt.
	OnOpen func(ctx context.Context, c *Conn) error
	// OnState receives every state change, in order, on the Client's
	// goroutine. It must return quickly.
	OnState func(StateEvent)
}

// Client is a WebSocket that reconnects. Read returns the messages of every
// connection in order; Write sends, or queues while disconnected.
//
// A message written just before a connection drops may be lost: the
// browser gives no acknowledgement. Resume at the application level (as the
// hub's cursors do) where that matters.
type Client struct {
	url  string
	opts ReconnectOptions
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	conn    *Conn // the open connection, or nil
	state   State
	changed chan struct{} // closed and replaced on every change
	queue   []queued
	qbytes  int
	lastErr error
}

type queued struct {
	typ MessageType
	p   []byte
}

// errClientClosed: the Client was closed.
var errClientClosed = &wrapError{msg: "ws: client", err: ErrClosed}

// Reconnect starts a Client for url and returns at once; it connects in
// the background. The Client stops when ctx ends or Close is called.
func Reconnect(ctx context.Context, url string, opts *ReconnectOptions) *Client {
	var o ReconnectOptions
	if opts != nil {
		o = *opts
	}
	if o.MinDelay <= 0 {
		o.MinDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 10 * time.Second
	}
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = o.MinDelay
	}
	if o.Factor < 1 {
		o.Factor = 1.3
	}
	switch {
	case o.Jitter == 0:
		o.Jitter = 0.5
	case o.Jitter < 0:
		o.Jitter = 0
	case o.Jitter > 1:
		o.Jitter = 1
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = 1 << 20
	}
	if o.Retry == nil {
		o.Retry = func(err error) bool { return CloseStatus(err) != StatusKicked }
	}
	cctx, stop := context.WithCancel(ctx)
	c := &Client{url: url, opts: o, ctx: cctx, stop: stop, done: make(chan struct{}), changed: make(chan struct{})}
	go c.run()
	return c
}

// Backoff returns the pause before attempt n (1 = the first retry) without
// jitter.
func (o *ReconnectOptions) backoff(n int) time.Duration {
	d := float64(o.MinDelay)
	for i := 1; i < n && d < float64(o.MaxDelay); i++ {
		d *= o.Factor
	}
	d = min(d, float64(o.MaxDelay))
	d *= 1 - o.Jitter + 2*o.Jitter*rand.Float64()
	return time.Duration(d)
}

func (c *Client) setState(ev StateEvent) {
	c.mu.Lock()
	c.state = ev.State
	if ev.Err != nil {
		c.lastErr = ev.Err
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	if c.opts.OnState != nil {
		c.opts.OnState(ev)
	}
}

// run is the Client's goroutine: dial, serve, wait, repeat.
func (c *Client) run() {
	defer close(c.done)
	attempt := 0
	var last error
	for {
		attempt++
		c.setState(StateEvent{State: StateConnecting, Attempt: attempt, Err: last})
		dctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
		conn, err := Dial(dctx, c.url, c.opts.Dial)
		cancel()
		if err == nil && c.opts.OnOpen != nil {
			if err = c.opts.OnOpen(c.ctx, conn); err != nil {
				conn.CloseNow()
			}
		}
		if err == nil {
			err = c.flush(conn)
		}
		if err == nil {
			attempt = 0
			c.setState(StateEvent{State: StateOpen})
			select {
			case <-conn.closed:
				c.mu.Lock()
				c.conn = nil
				err = conn.errLocked("read")
				c.mu.Unlock()
			case <-c.ctx.Done():
			}
		}
		if c.ctx.Err() != nil {
			c.mu.Lock()
			c.conn = nil
			c.mu.Unlock()
			if conn != nil {
				conn.Close(StatusNormalClosure, "")
			}
			c.setState(StateEvent{State: StateClosed, Err: errClientClosed})
			return
		}
		last = err
		if attempt == 0 && !c.opts.Retry(err) || c.opts.MaxAttempts > 0 && attempt >= c.opts.MaxAttempts {
			c.setState(StateEvent{State: StateClosed, Attempt: attempt, Err: err})
			c.stop()
			return
		}
		delay := c.opts.backoff(max(attempt, 1))
		c.setState(StateEvent{State: StateWaiting, Attempt: attempt + 1, Delay: delay, Err: err})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
		if c.ctx.Err() != nil {
			c.setState(StateEvent{State: StateClosed, Err: errClientClosed})
			return
		}
	}
}

// flush sends the queued messages on conn, then makes it the current
// connection (in one step with the last check, so Write keeps the order).
func (c *Client) flush(conn *Conn) error {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.conn = conn
			c.mu.Unlock()
			return nil
		}
		m := c.queue[0]
		c.mu.Unlock()
		if err := conn.Write(c.ctx, m.typ, m.p); err != nil {
			conn.CloseNow()
			return err
		}
		c.mu.Lock()
		c.queue[0] = queued{}
		c.queue = c.queue[1:]
		c.qbytes -= len(m.p)
		c.mu.Unlock()
	}
}

// Write sends p on the open connection, or queues it while there is none.
// It returns ErrSendQueueFull when the queue is full and an error holding
// ErrClosed after Close.
func (c *Client) Write(ctx context.Context, typ MessageType, p []byte) error {
	if typ != MessageText && typ != MessageBinary {
		return ErrMessageType
	}
	c.mu.Lock()
	if c.state == StateClosed || c.ctx.Err() != nil {
		c.mu.Unlock()
		return errClientClosed
	}
	if conn := c.conn; conn != nil {
		c.mu.Unlock()
		err := conn.Write(ctx, typ, p)
		if err == nil || !errors.Is(err, ErrClosed) {
			return err
		}
		c.mu.Lock() // the connection just dropped: queue instead
	}
	defer c.mu.Unlock()
	if len(c.queue) >= c.opts.SendQueue || c.qbytes+len(p) > c.opts.SendQueueBytes {
		return ErrSendQueueFull
	}
	c.queue = append(c.queue, queued{typ: typ, p: append([]byte(nil), p...)})
	c.qbytes += len(p)
	return nil
}

// Read returns the next message of the current connection, waiting across
// reconnects. A message over the read limit or a queue overflow ends a
// connection; Read reports that error once, then goes on with the next
// connection. After Close it returns an error holding ErrClosed.
func (c *Client) Read(ctx context.Context) (MessageType, []byte, error) {
	for {
		c.mu.Lock()
		conn, state, changed := c.conn, c.state, c.changed
		c.mu.Unlock()
		if conn == nil {
			if state == StateClosed {
				return 0, nil, c.closedErr()
			}
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
		}
		typ, p, err := conn.Read(ctx)
		switch {
		case err == nil:
			return typ, p, nil
		case ctx.Err() != nil:
			return 0, nil, ctx.Err()
		case errors.Is(err, ErrReadLimit) || errors.Is(err, ErrReadQueueFull):
			c.mu.Lock()
			if c.conn == conn {
				c.conn = nil
			}
			c.mu.Unlock()
			return 0, nil, err
		}
		// The connection ended: wait until run has noticed.
		c.mu.Lock()
		if c.conn == conn {
			changed = c.changed
			c.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
			continue
		}
		c.mu.Unlock()
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastErr != nil && !errors.Is(c.lastErr, errClientClosed) {
		return &wrapError{msg: "ws: client", err: ErrClosed, close: closeOf(c.lastErr)}
	}
	return errClientClosed
}

func closeOf(err error) *CloseError {
	var ce CloseError
	if errors.As(err, &ce) {
		return &ce
	}
	return nil
}

// State returns the current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Queued returns the number of messages waiting for a connection.
func (c *Client) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// Conn returns the open connection, or nil.
func (c *Client) Conn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// Close closes the connection with 1000 and stops reconnecting. It waits
// for the Client's goroutine to end. Queued messages are dropped.
func (c *Client) Close() error {
	c.stop()
	<-c.done
	return nil
}
