//go:build js && wasm

package jsutil

import (
	"sync"
	"syscall/js"
	"time"
)

// Native JavaScript functions the batch path calls. No Go code and no
// JavaScript of comet's own runs per event.
var (
	arrayCtor     = js.Global().Get("Array")
	arrayPush     = arrayCtor.Get("prototype").Get("push")
	jsonStringify = js.Global().Get("JSON").Get("stringify")
	setTimeout    = js.Global().Get("setTimeout")
	objectCtor    = js.Global().Get("Object")
	eventTarget   = js.Global().Get("EventTarget")
	eventCtor     = js.Global().Get("Event")
)

// BatchOptions configures NewBatch.
type BatchOptions struct {
	// Events are the event types queued, in arrival order, in one array.
	Events []string
	// Keys are the properties of each event the batch reads, e.g.
	// "data". At most 8. A getter on the prototype is read too.
	Keys []string
	// OnBatch receives each drained batch, in order. It runs on the
	// event loop and must only hand off. items are only valid during the
	// call; their []byte fields point into one buffer of the batch that
	// is never written again, so they may be kept.
	OnBatch func(b *Items)
	// BurstGap is the spacing below which two events count as a burst
	// and batching starts: a reply to a message Go just sent (a
	// ping-pong round trip) takes longer than this even on loopback,
	// while the events of one network chunk or of a pipelined stream
	// follow each other faster. Defaults to 250µs.
	BurstGap time.Duration
}

// Batch hands the events of a target to Go: one at a time while they
// come one at a time, and in batches while they come in bursts.
//
// Alone, an event goes straight to a Go listener (one call into Go, as
// with Listen). When an event follows the previous one by less than
// BatchOptions.BurstGap, the Batch switches to batching: the listener becomes
// Array.prototype.push bound to a JavaScript array (a native function, so
// no Go code runs per event and no eval is needed: a page CSP without
// 'unsafe-eval' is fine), and a second listener added with {once: true},
// setTimeout bound to a private EventTarget's dispatchEvent, schedules one
// Go wake as a new task. Events the browser dispatches before that task
// (the rest of a network chunk, a burst of messages) reach Go together:
// the wake drains the array with one JSON.stringify call limited to
// BatchOptions.Keys (it reads prototype getters such as MessageEvent.data)
// and copies that JSON into Go once, about seven boundary calls and two
// finalizer-tracked js.Values per batch, whatever its size. A wake that
// finds at most one event switches back. (The EventTarget lets Release
// drop Go's func while a wake is still pending.)
//
// Flush drains at once; a listener that must see every earlier event (a
// close or error event) calls it first. Release removes the listeners
// and releases the two js.Funcs; the Batch owns them.
type Batch struct {
	target  js.Value
	names   []js.Value
	keys    []string
	jsKeys  js.Value
	arr     js.Value
	push    js.Value
	arm     js.Value // setTimeout.bind(globalThis, waker.dispatchEvent.bind(waker, ev), 0)
	onceOpt js.Value
	waker   js.Value      // EventTarget whose listener is wake
	direct  Func          // the listener while events come one at a time
	wake    Func          // the batch's wake
	gap     time.Duration // BatchOptions.BurstGap
	onBatch func(*Items)

	mu       sync.Mutex
	released bool
	batching bool      // push and arm are the listeners, not direct
	last     time.Time // of the last event direct saw
	items    Items
}

// NewBatch starts listening for opts.Events of target.
func NewBatch(target js.Value, opts BatchOptions) *Batch {
	b := &Batch{target: target, keys: opts.Keys, onBatch: opts.OnBatch, gap: opts.BurstGap}
	if b.gap <= 0 {
		b.gap = 250 * time.Microsecond
	}
	if len(b.keys) > maxKeys {
		panic("jsutil: NewBatch: more than 8 keys")
	}
	keys := make([]any, len(opts.Keys))
	for i, k := range opts.Keys {
		keys[i] = k
	}
	b.jsKeys = js.ValueOf(keys)
	b.arr = arrayCtor.New()
	b.push = arrayPush.Call("bind", b.arr)
	b.direct = FuncOf(func(_ js.Value, args []js.Value) any {
		b.onDirect(arg0(args))
		return nil
	})
	b.wake = FuncOf(func(js.Value, []js.Value) any {
		b.onWake()
		return nil
	})
	b.waker = eventTarget.New()
	b.waker.Call("addEventListener", "wake", b.wake.Value)
	dispatch := b.waker.Get("dispatchEvent").Call("bind", b.waker, eventCtor.New("wake"))
	b.arm = setTimeout.Call("bind", js.Global(), dispatch, 0)
	b.onceOpt = objectCtor.New()
	b.onceOpt.Set("once", true)
	for _, name := range opts.Events {
		n := js.ValueOf(name)
		b.names = append(b.names, n)
		target.Call("addEventListener", n, b.direct.Value)
	}
	return b
}

// onDirect takes one event; a second one soon after starts batching.
func (b *Batch) onDirect(ev js.Value) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released || b.batching {
		return
	}
	it := &b.items
	it.reset(b.keys, js.Undefined(), 1)
	it.one(ev)
	b.onBatch(it)
	it.arr = js.Undefined()
	now := time.Now()
	if now.Sub(b.last) < b.gap {
		b.batching = true
		for _, n := range b.names {
			b.target.Call("removeEventListener", n, b.direct.Value)
			b.target.Call("addEventListener", n, b.push)
		}
		b.armWake()
	}
	b.last = now
}

// armWake adds the once listener that schedules a wake (again; adding one
// that is still there does nothing).
func (b *Batch) armWake() {
	for _, n := range b.names {
		b.target.Call("addEventListener", n, b.arm, b.onceOpt)
	}
}

// onWake drains a batch; one of at most one event ends batching.
func (b *Batch) onWake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released || !b.batching {
		return
	}
	if b.flushLocked() > 1 {
		b.armWake()
		return
	}
	b.batching = false
	b.last = time.Now()
	for _, n := range b.names {
		b.target.Call("removeEventListener", n, b.push)
		b.target.Call("removeEventListener", n, b.arm, b.onceOpt)
		b.target.Call("addEventListener", n, b.direct.Value)
	}
}

// Flush hands the queued events to OnBatch now. Safe from a callback
// and from a goroutine; after Release it does nothing. OnBatch must not
// call Flush or Release.
func (b *Batch) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

// flushLocked drains the array and returns how many events it held.
func (b *Batch) flushLocked() int {
	if b.released {
		return 0
	}
	n := b.arr.Length()
	if n == 0 {
		return 0
	}
	it := &b.items
	it.reset(b.keys, b.arr, n)
	if err := Try(func() { it.load(jsonStringify.Invoke(b.arr, b.jsKeys)) }); err != nil || !it.parse() {
		it.slow() // a getter threw, or the JSON was not what stringify writes
	}
	b.onBatch(it)
	it.arr = js.Undefined()
	b.arr.Set("length", 0)
	return n
}

// Release drains what is queued, removes the listeners and releases the
// funcs. It is idempotent.
func (b *Batch) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	if b.released {
		return
	}
	b.released = true
	for _, n := range b.names {
		Try(func() {
			b.target.Call("removeEventListener", n, b.direct.Value)
			b.target.Call("removeEventListener", n, b.push)
			b.target.Call("removeEventListener", n, b.arm, b.onceOpt)
		})
	}
	b.waker.Call("removeEventListener", "wake", b.wake.Value) // a pending wake now wakes nobody
	b.direct.Release()
	b.wake.Release()
}
