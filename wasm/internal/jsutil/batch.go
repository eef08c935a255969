//go:build js && wasm

package jsutil

import (
	"sync"
	"syscall/js"
)

// BatchOptions configures NewBatch.
type BatchOptions struct {
	// Events are the event types queued, in arrival order, in one queue.
	Events []string
	// Keys are the properties of each event the batch reads, e.g.
	// "data". At most 8. A getter on the prototype is read too.
	Keys []string
	// OnBatch receives each drained batch, in order. It runs on the
	// event loop and must only hand off. items are only valid during the
	// call; their []byte fields point into one buffer of the batch that
	// is never written again, so they may be kept.
	OnBatch func(b *Items)
	// Defer makes the first event after a quiet spell wait for the
	// batch's task too: best for a stream nobody answers. Without it that
	// first event wakes Go at once (a ping-pong reply costs no extra
	// task) and only the events behind it are batched. Without the helper
	// script every event wakes Go at once. Defaults to false.
	Defer bool
	// Flush names an event type of target that ends a burst (comet's
	// SSE sends wire.SSEFlush when asked with flush=1): when one
	// arrives, what is queued is drained at once instead of at the
	// batch's task, which Chromium runs 25-75 ms after a burst. Flush
	// events are not queued. Only with the helper script: without it
	// every event is drained at once anyway. Defaults to none.
	Flush string
}

// Batch hands the events of a target to Go once per batch instead of once
// per event, through the page's helper script (comet_batch.js,
// globalThis.cometBatch). Its listener appends each event's Keys to one
// byte buffer (strings as length-prefixed UTF-8, numbers as float64,
// booleans as a tag; an object such as a WebSocket message's ArrayBuffer
// or Blob goes into an array beside it), and a drain copies the buffer
// into Go once. The first event after a quiet spell posts one task (a
// MessageChannel message) that wakes Go if events are waiting, so the
// rest of a network chunk reaches Go in the same batch; without
// BatchOptions.Defer that first event also wakes Go at once.
//
// Without the script (a page that does not load it) each event calls
// into Go, which reads its Keys with Get: a batch of one event. Slower
// for a burst, the same for a ping-pong.
//
// Flush drains at once; a listener that must see every earlier event (a
// close or error event) calls it first. Release removes the listeners
// and releases the js.Func; the Batch owns it.
type Batch struct {
	target  js.Value
	events  []string
	keys    []string
	f       Func // the helper's wake, or the listener without it
	onBatch func(*Items)
	q       js.Value // the helper script's queue, or undefined
	out     js.Value // q.out, the array take() leaves the bytes in

	mu       sync.Mutex
	released bool
	items    Items
}

// NewBatch starts queuing opts.Events of target.
func NewBatch(target js.Value, opts BatchOptions) *Batch {
	if len(opts.Keys) > maxKeys {
		panic("jsutil: NewBatch: more than 8 keys")
	}
	b := &Batch{target: target, events: opts.Events, keys: opts.Keys, onBatch: opts.OnBatch}
	if h, ok := Helper(); ok {
		// The helper owns its listener and task; Go's one func is its wake.
		b.f = FuncOf(func(js.Value, []js.Value) any {
			b.Flush()
			return nil
		})
		b.q = h.Call("queue", target, stringArray(opts.Events), stringArray(opts.Keys), b.f.Value, !opts.Defer, opts.Flush)
		return b
	}
	b.f = FuncOf(func(_ js.Value, args []js.Value) any {
		b.mu.Lock()
		if !b.released {
			it := &b.items
			it.reset(b.keys, 1)
			it.read(arg0(args))
			b.onBatch(it)
			it.done()
		}
		b.mu.Unlock()
		return nil
	})
	for _, name := range opts.Events {
		target.Call("addEventListener", name, b.f.Value)
	}
	return b
}

// stringArray returns a new JavaScript array of the strings.
func stringArray(strs []string) js.Value {
	a := make([]any, len(strs))
	for i, s := range strs {
		a[i] = s
	}
	return js.ValueOf(a)
}

// Flush hands the queued events to OnBatch now. Safe from a callback
// and from a goroutine; after Release it does nothing. OnBatch must not
// call Flush or Release.
func (b *Batch) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock() // a panicking drain must not leave the batch locked
	b.flushLocked()
}

// flushLocked drains the helper's queue: its bytes, copied into Go once
// from the array Go keeps a handle on (two calls, no new js.Value). Without
// the helper nothing is ever queued.
func (b *Batch) flushLocked() {
	if b.released || b.q.IsUndefined() {
		return
	}
	size := b.q.Call("take").Int()
	if size < 0 { // q.out is a new array
		size = -1 - size
		b.out = b.q.Get("out")
	}
	if size < 4 {
		return
	}
	buf := make([]byte, size)
	js.CopyBytesToGo(buf, b.out)
	// Each key of an event takes at least 4 bytes: a count beyond that
	// (a buffer that is not the script's) is cut to what the bytes hold.
	n := min(int(le32(buf[size-4:])), (size-4)/(4*max(1, len(b.keys))))
	it := &b.items
	it.reset(b.keys, n)
	it.buf = buf[: size-4 : size-4]
	var objs int
	it.n, objs = it.parseText()
	if objs > 0 {
		it.vals = b.q.Get("taken")
	}
	b.onBatch(it)
	it.done()
}

// Release drains what is queued, removes the listeners and releases the
// func. It is idempotent.
func (b *Batch) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	if !b.released {
		b.released = true
		if !b.q.IsUndefined() {
			Call(b.q, "close") // removes its listeners and drops the wake
			b.q, b.out = js.Undefined(), js.Undefined()
		} else {
			for _, n := range b.events {
				Call(b.target, "removeEventListener", n, b.f.Value)
			}
		}
		b.f.Release()
	}
}

// UsesHelper reports whether the batch queues through the helper script.
func (b *Batch) UsesHelper() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.q.IsUndefined()
}

// helperVersion is the version of comet_batch.js this package speaks.
const helperVersion = 7

// helperSeen is the last globalThis.cometBatch found to be of
// helperVersion: a page's script is checked once, not per use; warned is
// the last one found of another version.
var helperSeen struct {
	mu     sync.Mutex
	v      js.Value
	warned js.Value
}

// Helper returns the page's helper script, globalThis.cometBatch, and
// whether it is there and of the version this package speaks. One call
// into JavaScript: the version is read only for an object not seen
// before.
func Helper() (js.Value, bool) {
	h := js.Global().Get("cometBatch")
	if h.Type() != js.TypeObject {
		return h, false
	}
	helperSeen.mu.Lock()
	defer helperSeen.mu.Unlock()
	if h.Equal(helperSeen.v) {
		return h, true
	}
	if v := h.Get("version"); !v.Equal(js.ValueOf(helperVersion)) {
		if !h.Equal(helperSeen.warned) { // a stale copy (a cache): say so once
			helperSeen.warned = h
			if c := js.Global().Get("console"); c.Type() == js.TypeObject {
				c.Call("warn", "comet: comet_batch.js is version", v, "but this program speaks version", helperVersion,
					"(a stale copy?): events cross into Go one by one, slower. Serve the comet_batch.js of this comet.")
			}
		}
		return h, false
	}
	helperSeen.v = h
	return h, true
}
