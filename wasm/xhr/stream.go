//go:build js && wasm

package xhr

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall/js"
)

// streamBody reads the new part of responseText as the request goes on.
type streamBody struct {
	ctx  context.Context
	c    *call
	stop func() bool // stops the ctx watcher

	mu   sync.Mutex // serialises Read
	pos  int        // UTF-16 units of responseText consumed
	buf  []byte
	err  error // sticky
	once sync.Once
	done chan struct{} // closed by Close or when ctx ends
	why  error         // set before done closes
}

func newStreamBody(ctx context.Context, c *call) *streamBody {
	b := &streamBody{ctx: ctx, c: c, done: make(chan struct{})}
	// ctx rules even when nobody is reading.
	b.stop = context.AfterFunc(ctx, func() { b.finish(c.ctxErr(ctx)) })
	return b
}

// finish aborts the request and releases its listeners, once.
func (b *streamBody) finish(why error) {
	b.once.Do(func() {
		b.why = why
		b.c.abort()
		close(b.done)
	})
}

// Read returns the bytes that arrived since the last Read, waiting for
// some if there are none. At the end of a complete body it returns io.EOF.
func (b *streamBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if len(b.buf) > 0 {
			n := copy(p, b.buf)
			b.buf = b.buf[n:]
			return n, nil
		}
		if b.err != nil {
			return 0, b.err
		}
		select {
		case <-b.done:
			b.c.drain()
			b.c.release()
			b.err = b.why
			continue
		default:
		}
		ended, _ := b.c.drain()
		b.pull(ended)
		if len(b.buf) > 0 {
			continue
		}
		if ended {
			b.stop()
			b.c.release()
			b.err = b.c.outcome()
			switch {
			case b.err == nil:
				b.err = io.EOF
			case errors.Is(b.err, ErrAborted) && b.ctx.Err() != nil:
				b.err = b.c.ctxErr(b.ctx) // aborted by the ctx watcher
			}
			continue
		}
		select {
		case <-b.c.sig:
		case <-b.done:
		}
	}
}

// pull appends the unread part of responseText to buf. Unless the body
// has ended, it keeps back a trailing high surrogate whose pair has not
// arrived.
func (b *streamBody) pull(ended bool) {
	// A String object: syscall/js cannot call methods on a primitive.
	text := js.Global().Get("Object").Invoke(b.c.x.Get("responseText"))
	n := text.Get("length").Int()
	if n <= b.pos {
		return
	}
	end := n
	if !ended {
		if u := text.Call("charCodeAt", n-1).Int(); u >= 0xD800 && u <= 0xDBFF {
			end--
		}
	}
	if end <= b.pos {
		return
	}
	b.buf = append(b.buf, text.Call("substring", b.pos, end).String()...)
	b.pos = end
}

// Close aborts the request if it is still running and releases it.
// Later Reads return ErrClosed.
func (b *streamBody) Close() error {
	b.stop()
	b.finish(&Error{Method: b.c.method, URL: b.c.url, Err: ErrClosed})
	b.mu.Lock()
	defer b.mu.Unlock()
	b.c.drain()
	b.c.release()
	if b.err == nil || b.err == io.EOF {
		b.err = &Error{Method: b.c.method, URL: b.c.url, Err: ErrClosed}
	}
	b.buf = nil
	return nil
}
