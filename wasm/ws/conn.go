//go:build js && wasm

package ws

import (
	"context"
	"errors"
	"sync"
	"syscall/js"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// DialOptions configures Dial. The zero value (or nil) uses every default.
type DialOptions struct {
	// Subprotocols are offered to the server, most preferred first.
	// Conn.Subprotocol reports the one it chose. Defaults to none.
	Subprotocols []string
	// BinaryType is "arraybuffer" or "blob". With "arraybuffer" binary
	// messages are copied into Go as they arrive; with "blob" they stay
	// in the browser as Blobs until Read copies them. Defaults to
	// "arraybuffer".
	BinaryType string
	// ReadLimit is the largest message in bytes. A larger one closes the
	// connection with StatusTooBig and Read returns ErrReadLimit.
	// Defaults to 32 MiB.
	ReadLimit int64
	// QueueMessages and QueueBytes bound the messages received but not
	// yet Read. When a message does not fit, the connection closes with
	// StatusTooSlow; Read returns what was queued, then ErrReadQueueFull.
	// A single message always fits an empty queue. Default 1024 messages
	// and 64 MiB.
	QueueMessages int
	QueueBytes    int64
	// HighWaterMark bounds the browser's send buffer: Write waits while
	// bufferedAmount is above it. Defaults to 1 MiB.
	HighWaterMark int
	// PollInterval is the longest pause between two bufferedAmount checks
	// while Write waits (browsers fire no event when it drains). The
	// first pauses are shorter. Defaults to 20ms.
	PollInterval time.Duration
	// CloseTimeout is how long Close waits for the closing handshake.
	// Defaults to 5s.
	CloseTimeout time.Duration
}

func (o *DialOptions) withDefaults() DialOptions {
	var d DialOptions
	if o != nil {
		d = *o
	}
	if d.BinaryType == "" {
		d.BinaryType = "arraybuffer"
	}
	if d.ReadLimit <= 0 {
		d.ReadLimit = 32 << 20
	}
	if d.QueueMessages <= 0 {
		d.QueueMessages = 1024
	}
	if d.QueueBytes <= 0 {
		d.QueueBytes = 64 << 20
	}
	if d.HighWaterMark <= 0 {
		d.HighWaterMark = 1 << 20
	}
	if d.PollInterval <= 0 {
		d.PollInterval = 20 * time.Millisecond
	}
	if d.CloseTimeout <= 0 {
		d.CloseTimeout = 5 * time.Second
	}
	return d
}

// errBinaryType: DialOptions.BinaryType is neither "arraybuffer" nor "blob".
var errBinaryType = errors.New(`ws: BinaryType must be "arraybuffer" or "blob"`)

// errCloseTimeout: the peer did not finish the closing handshake in time.
var errCloseTimeout = errors.New("ws: closing handshake timed out")

// readyState values.
const stateOpen = 1

// Conn is an open WebSocket. Read, Write and Close may be called from
// different goroutines; concurrent Writes are sent one after the other.
type Conn struct {
	sock      js.Value
	opts      DialOptions
	listeners jsutil.Listeners
	batch     *jsutil.Batch // message events, handed to Go once per batch
	native    bool          // the browser's own WebSocket: send copies its bytes
	writeMu   chan struct{} // a lock that respects ctx
	sendBuf   js.Value      // Uint8Array reused by binary Writes; under writeMu
	sendLen   int           // its length
	send      js.Value      // sock.send bound to sock
	sendText  js.Value      // the helper script's sendText, or undefined
	textBuf   js.Value      // Uint8Array reused by text Writes through sendText; under writeMu
	textCap   int           // its length
	buffered  int           // under writeMu: bufferedAmount is at most this (last read + bytes sent since)
	wake      jsutil.Signal // a message arrived or the state changed
	closed    chan struct{} // closed once the close event arrived or the conn was torn down

	mu        sync.Mutex
	queue     []message
	queued    int64 // bytes in queue
	done      bool  // no more messages will be queued
	finished  bool  // finish ran: closed is closed
	failErr   error // why the conn failed locally (read limit, overflow)
	local     *CloseError
	closeInfo *CloseError // from the CloseEvent

	failClose *CloseError // the close fail sent; WasClean comes from the close event
}

type message struct {
	typ  MessageType
	data []byte
	blob js.Value // with BinaryType "blob": the Blob, copied by Read
	size int64
}

// Dial opens a WebSocket to url (ws: or wss:, or a path relative to the
// page in browsers that allow it). If ctx ends before the connection
// opens, the socket is closed, every listener is released and ctx.Err() is
// returned (wrapped). ctx does not affect the Conn once it is open.
func Dial(ctx context.Context, url string, opts *DialOptions) (*Conn, error) {
	ctor, ok := jsutil.Global("WebSocket")
	if !ok {
		return nil, ErrNoWebSocket
	}
	o := opts.withDefaults()
	if o.BinaryType != "arraybuffer" && o.BinaryType != "blob" {
		return nil, errBinaryType
	}
	if err := ctx.Err(); err != nil {
		return nil, dialError(url, err)
	}
	protocols := make([]any, len(o.Subprotocols))
	for i, p := range o.Subprotocols {
		protocols[i] = p
	}
	sock, err := jsutil.New(ctor, url, protocols)
	if err != nil {
		return nil, dialError(url, err)
	}
	c := &Conn{
		sock:    sock,
		opts:    o,
		writeMu: make(chan struct{}, 1),
		wake:    jsutil.NewSignal(),
		closed:  make(chan struct{}),
	}
	opened := jsutil.NewSignal()
	// Kept until the conn is done: fewer paths to remove it on.
	c.listeners.Add(sock, "open", func(js.Value) { opened.Notify() })
	if err := jsutil.Try(func() {
		sock.Set("binaryType", o.BinaryType)
		// A JavaScript no-op (not a js.Func: nothing to release) as the
		// error handler: node's ws polyfill throws on an "error" nobody
		// listens to, even after Dial gave up. The close event carries
		// what Go needs.
		sock.Set("onerror", js.Global().Get("Function").Get("prototype"))
	}); err != nil {
		c.teardown()
		return nil, dialError(url, err)
	}
	c.native = jsutil.IsNative(ctor)
	c.send = sock.Get("send").Call("bind", sock)
	if h, ok := jsutil.Helper(); ok {
		c.sendText = h.Get("sendText")
	}
	c.batch = jsutil.NewBatch(sock, jsutil.BatchOptions{Events: messageEvent, Keys: dataKey, OnBatch: c.onBatch})
	c.listeners.Add(sock, "close", c.onClose)

	select {
	case <-opened:
	case <-c.closed:
		select {
		case <-opened: // opened, then closed at once: Read reports it
		default:
			c.mu.Lock()
			info := c.closeInfo
			c.mu.Unlock()
			return nil, &wrapError{msg: "ws: dial " + url, err: ErrDial, hint: dialHint(url, len(o.Subprotocols) > 0), close: info}
		}
	case <-ctx.Done():
		c.teardown()
		return nil, dialError(url, ctx.Err())
	}
	return c, nil
}

// What the batch of a Conn queues and reads. (Package-level: a literal
// in Dial would be a heap array with its own type information.)
var (
	messageEvent = []string{"message"}
	dataKey      = []string{"data"}
)

// dialError is Dial's error for err. Not inlined: one copy for every
// failure path.
//
//go:noinline
func dialError(url string, err error) error {
	return &wrapError{msg: "ws: dial " + url, err: err}
}

// teardown closes the socket without waiting and releases every listener.
// Safe to call more than once and from a callback.
func (c *Conn) teardown() {
	jsutil.Call(c.sock, "close")
	c.finish()
}

// finish marks the conn closed and releases its listeners.
func (c *Conn) finish() {
	c.mu.Lock()
	c.done = true
	first := !c.finished
	c.finished = true
	c.mu.Unlock()
	c.listeners.RemoveAll()
	if c.batch != nil {
		c.batch.Release()
	}
	if first {
		close(c.closed)
	}
	c.wake.Notify()
}

// onBatch runs on the event loop: it queues a batch of messages. Text
// arrives decoded in the batch's buffer (one copy for the whole batch);
// binary data is copied per message.
func (c *Conn) onBatch(b *jsutil.Items) {
	for i := 0; i < b.Len(); i++ {
		var m message
		if text, ok := b.Bytes(i, 0); ok {
			m = message{typ: MessageText, data: text, size: int64(len(text))}
		} else if !c.binary(b.Value(i, 0), &m) {
			return
		}
		if m.size > c.opts.ReadLimit {
			c.fail(ErrReadLimit, StatusTooBig, "message too big")
			return
		}
		c.mu.Lock()
		if c.done {
			c.mu.Unlock()
			return
		}
		if len(c.queue) >= c.opts.QueueMessages || len(c.queue) > 0 && c.queued+m.size > c.opts.QueueBytes {
			c.mu.Unlock()
			c.fail(ErrReadQueueFull, StatusTooSlow, "reader too slow")
			return
		}
		c.queue = append(c.queue, m)
		c.queued += m.size
		c.mu.Unlock()
	}
	c.wake.Notify()
}

// binary fills m from an ArrayBuffer (copied now) or a Blob (kept). It
// reports false if it failed the conn.
func (c *Conn) binary(data js.Value, m *message) bool {
	if n := data.Get("byteLength"); n.Type() == js.TypeNumber { // ArrayBuffer
		*m = message{typ: MessageBinary, size: int64(n.Int())}
		if m.size <= c.opts.ReadLimit {
			if err := jsutil.Try(func() { m.data = jsutil.ArrayBufferToGo(data, n.Int()) }); err != nil {
				c.fail(err, StatusPolicy, "unreadable message")
				return false
			}
		}
		return true
	}
	*m = message{typ: MessageBinary, blob: data, size: int64(data.Get("size").Int())}
	return true
}

// fail stops reading and starts closing with a browser-valid code. Read
// returns the queued messages, then err. Safe from a callback.
func (c *Conn) fail(err error, code StatusCode, reason string) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.failClose = &CloseError{Code: code, Reason: reason}
	c.failErr = &wrapError{msg: "ws: read", err: err, close: c.failClose}
	c.mu.Unlock()
	jsutil.Call(c.sock, "close", int(code), reason)
	c.wake.Notify()
}

// onClose runs on the event loop when the socket has closed.
func (c *Conn) onClose(ev js.Value) {
	c.batch.Flush() // the messages that came before
	info := &CloseError{
		Code:     StatusCode(ev.Get("code").Int()),
		Reason:   ev.Get("reason").String(),
		WasClean: ev.Get("wasClean").Equal(js.ValueOf(true)),
	}
	c.mu.Lock()
	c.closeInfo = info
	if c.failClose != nil { // the peer answered (or not) the close fail sent
		c.failClose.WasClean = info.WasClean
	}
	c.mu.Unlock()
	c.finish()
}

// errLocked says why the conn is done. c.mu is held. Not inlined: one
// copy for its five callers.
//
//go:noinline
func (c *Conn) errLocked(op string) error {
	if c.failErr != nil {
		return c.failErr
	}
	info := c.closeInfo // the CloseEvent's, else the local Close's, if any
	if info == nil {
		info = c.local
	}
	return &wrapError{msg: "ws: " + op, err: ErrClosed, close: info}
}

// Read waits for the next message. After the connection closes it
// returns the queued messages, then an error holding ErrClosed (or
// ErrReadLimit, ErrReadQueueFull) and the CloseError: use CloseStatus.
// After a read limit or an overflow it first waits (at most CloseTimeout)
// for the closing handshake, so the CloseError's WasClean is true to it.
// If ctx ends first it returns ctx.Err() and the connection stays open:
// unlike coder/websocket's Read, which closes it with
// StatusPolicyViolation (1008), a code browsers may not send. A Read
// deadline is therefore only a bound on the wait; call Close to end.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = message{}
			c.queue = c.queue[1:]
			c.queued -= m.size
			more := len(c.queue) > 0
			c.mu.Unlock()
			if more {
				c.wake.Notify() // another reader may be waiting
			}
			if m.blob.IsUndefined() {
				return m.typ, m.data, nil
			}
			buf, err := jsutil.Await(ctx, m.blob.Call("arrayBuffer"))
			if err == nil {
				var b []byte
				b, err = jsutil.BytesToGo(buf)
				if err == nil {
					return m.typ, b, nil
				}
			}
			if ctx.Err() != nil { // keep the message for the next Read
				c.mu.Lock()
				c.queue = append([]message{m}, c.queue...)
				c.queued += m.size
				c.mu.Unlock()
				return 0, nil, ctx.Err()
			}
			return 0, nil, &wrapError{msg: "ws: read blob", err: err}
		}
		if c.done && c.failErr != nil && c.closeInfo == nil {
			// The package started a close (read limit, overflow): wait
			// for the handshake, so the error says whether it was clean.
			c.mu.Unlock()
			if err := c.awaitClose(ctx); err != nil && err != errCloseTimeout {
				return 0, nil, err
			}
			c.mu.Lock()
		}
		if c.done {
			err := c.errLocked("read")
			c.mu.Unlock()
			return 0, nil, err
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-c.wake:
		case <-c.closed:
		}
	}
}

// awaitClose waits for the close event, at most CloseTimeout (then it
// tears the socket down, the close was not clean, and it returns
// errCloseTimeout), or until ctx ends.
func (c *Conn) awaitClose(ctx context.Context) error {
	t := time.NewTimer(c.opts.CloseTimeout)
	var err error
	select {
	case <-c.closed:
	case <-t.C:
		c.teardown()
		err = errCloseTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	t.Stop()
	return err
}

// Write sends one message. A text message must be valid UTF-8. While the
// browser's bufferedAmount is above DialOptions.HighWaterMark, Write waits
// (until ctx ends) before sending, so the buffer never holds more than
// HighWaterMark plus one message.
func (c *Conn) Write(ctx context.Context, typ MessageType, p []byte) error {
	if typ != MessageText && typ != MessageBinary {
		return ErrMessageType
	}
	if typ == MessageText && !utf8.Valid(p) {
		return ErrInvalidUTF8
	}
	select {
	case c.writeMu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := c.waitBuffered(ctx, len(p))
	if err == nil {
		err = c.sendLocked(typ, p)
	}
	<-c.writeMu
	return err
}

// sendLocked sends one message; writeMu is held.
func (c *Conn) sendLocked(typ MessageType, p []byte) error {
	send, args := c.send, []any{""}
	switch {
	case typ == MessageText && !c.sendText.IsUndefined() && len(p) <= maxSendBuf:
		// The UTF-8 goes into one kept Uint8Array, which the helper
		// decodes into the string it sends: no js.Value per message.
		if c.textBuf.IsUndefined() || len(p) > c.textCap {
			c.textCap = min(max(len(p), 2*c.textCap, 1024), maxSendBuf)
			c.textBuf = jsutil.NewUint8Array(c.textCap)
		}
		js.CopyBytesToJS(c.textBuf, p)
		send, args = c.sendText, []any{c.sock, c.textBuf, len(p)}
	case typ == MessageText && len(p) > 0:
		// syscall/js decodes the UTF-8 into a JS string at once: p is
		// not kept, so no Go copy is needed.
		args[0] = unsafe.String(&p[0], len(p))
	case typ == MessageText:
	case c.native && len(p) <= maxSendBuf:
		// The browser copies what send is given, so one buffer serves
		// every Write of the same size.
		if c.sendBuf.IsUndefined() || c.sendLen != len(p) {
			c.sendBuf, c.sendLen = jsutil.BytesToJS(p), len(p)
		} else {
			js.CopyBytesToJS(c.sendBuf, p)
		}
		args[0] = c.sendBuf
	default:
		args[0] = jsutil.BytesToJS(p)
	}
	if err := jsutil.Try(func() { send.Invoke(args...) }); err != nil {
		return &wrapError{msg: "ws: write", err: err}
	}
	c.buffered += len(p) // a text message's UTF-8 bytes, as bufferedAmount counts
	return nil
}

// maxSendBuf bounds the send buffers a Conn keeps.
const maxSendBuf = 1 << 20

// waitBuffered waits until the conn is open and bufferedAmount is at most
// the high-water mark. bufferedAmount only grows by what Write sends, so
// while the bytes sent since it was last read keep it under the mark it
// is not read again (two calls into JavaScript per message saved); nor is
// readyState then: the close event, which ends the conn, comes after it.
func (c *Conn) waitBuffered(ctx context.Context, n int) error {
	pause := time.Millisecond
	for {
		c.mu.Lock()
		closing := c.local != nil || c.closeInfo != nil || c.failClose != nil
		if !closing && c.buffered+n <= c.opts.HighWaterMark {
			c.mu.Unlock()
			return nil
		}
		if closing || c.sock.Get("readyState").Int() != stateOpen {
			err := c.errLocked("write")
			c.mu.Unlock()
			return err
		}
		c.mu.Unlock()
		if c.buffered = c.sock.Get("bufferedAmount").Int(); c.buffered <= c.opts.HighWaterMark {
			return nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.closed:
			t.Stop()
		case <-t.C:
		}
		if pause *= 2; pause > c.opts.PollInterval {
			pause = c.opts.PollInterval
		}
	}
}

// Close closes the connection with code and reason and waits for the
// closing handshake (at most DialOptions.CloseTimeout). The code must be
// 1000 (StatusNormalClosure) or in 3000–4999 and the reason at most 123
// UTF-8 bytes, as browsers require; otherwise Close returns ErrInvalidCode
// or ErrReasonTooLong and the connection stays open. Closing a closed
// connection returns an error holding ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if err := checkClose(code, reason); err != nil {
		return err
	}
	c.mu.Lock()
	if c.local != nil || c.closeInfo != nil {
		err := c.errLocked("close")
		c.mu.Unlock()
		return err
	}
	c.local = &CloseError{Code: code, Reason: reason}
	c.done = true
	c.mu.Unlock()
	c.wake.Notify()
	if _, err := jsutil.Call(c.sock, "close", int(code), reason); err != nil {
		c.finish()
		return &wrapError{msg: "ws: close", err: err}
	}
	return c.awaitClose(context.Background())
}

// CloseNow closes the connection with StatusNormalClosure without waiting
// for the closing handshake, and releases every listener at once.
func (c *Conn) CloseNow() error {
	c.mu.Lock()
	if c.local != nil || c.closeInfo != nil {
		err := c.errLocked("close")
		c.mu.Unlock()
		return err
	}
	c.local = &CloseError{Code: StatusNormalClosure}
	c.mu.Unlock()
	jsutil.Call(c.sock, "close", int(StatusNormalClosure))
	c.finish()
	return nil
}

// Subprotocol returns the subprotocol the server chose, or "". (Read
// from the socket when called, as URL and Extensions are: they do not
// change once it is open, and a program that never asks links no code
// for them.)
func (c *Conn) Subprotocol() string { return c.sock.Get("protocol").String() }

// Extensions returns the extensions the server chose, e.g.
// "permessage-deflate", or "".
func (c *Conn) Extensions() string { return c.sock.Get("extensions").String() }

// URL returns the absolute URL of the connection.
func (c *Conn) URL() string { return c.sock.Get("url").String() }

// BufferedAmount returns the bytes the browser has queued to send.
func (c *Conn) BufferedAmount() int {
	return c.sock.Get("bufferedAmount").Int()
}

// JSValue returns the underlying WebSocket object.
func (c *Conn) JSValue() js.Value { return c.sock }
