//go:build js && wasm

package jsutil

import (
	"sync"
	"syscall/js"
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
}

// Batch queues the events of a target in a JavaScript array and hands
// them to Go once per batch instead of once per event. The listener of
// each event is Array.prototype.push bound to the array (a native
// function: no Go, no eval). A second listener, added with {once: true},
// is setTimeout bound to a private EventTarget's dispatchEvent, whose one
// listener is Go's wake func: the first event of a batch schedules one
// wake as a new task, so events the browser dispatches before it (a
// network chunk, a burst of messages) join the batch. (The EventTarget
// lets Release remove the wake func while a timer is still pending.) The
// wake drains the array with one JSON.stringify call limited to
// BatchOptions.Keys, copies the JSON into Go once and re-arms the once
// listener. A batch costs about seven boundary calls and two
// finalizer-tracked js.Values, whatever its size.
//
// Flush drains at once; a listener that must see every earlier event (a
// close or error event) calls it first. Release removes the listeners
// and releases the one js.Func; the Batch owns it.
type Batch struct {
	target  js.Value
	names   []js.Value
	keys    []string
	jsKeys  js.Value
	arr     js.Value
	push    js.Value
	arm     js.Value // setTimeout.bind(globalThis, waker.dispatchEvent.bind(waker, ev), 0)
	onceOpt js.Value
	waker   js.Value // EventTarget whose listener is wake
	wake    Func
	onBatch func(*Items)

	mu       sync.Mutex
	released bool
	items    Items
}

// NewBatch starts queuing opts.Events of target.
func NewBatch(target js.Value, opts BatchOptions) *Batch {
	b := &Batch{target: target, keys: opts.Keys, onBatch: opts.OnBatch}
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
	b.wake = FuncOf(func(js.Value, []js.Value) any {
		b.Flush()
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
		target.Call("addEventListener", n, b.push)
	}
	b.rearm()
	return b
}

func (b *Batch) rearm() {
	for _, n := range b.names {
		b.target.Call("addEventListener", n, b.arm, b.onceOpt)
	}
}

// Flush hands the queued events to OnBatch now. Safe from a callback
// and from a goroutine; after Release it does nothing.
func (b *Batch) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return
	}
	n := b.arr.Length()
	if n == 0 {
		return
	}
	it := &b.items
	it.reset(b.keys, b.arr, n)
	if err := Try(func() { it.load(jsonStringify.Invoke(b.arr, b.jsKeys)) }); err != nil || !it.parse() {
		it.slow() // a getter threw, or the JSON was not what stringify writes
	}
	b.onBatch(it)
	it.arr = js.Undefined()
	b.arr.Set("length", 0)
	b.rearm()
}

// Release drains what is queued, removes the listeners and releases the
// wake func. It is idempotent.
func (b *Batch) Release() {
	b.Flush()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return
	}
	b.released = true
	for _, n := range b.names {
		Try(func() {
			b.target.Call("removeEventListener", n, b.push)
			b.target.Call("removeEventListener", n, b.arm, b.onceOpt)
		})
	}
	b.waker.Call("removeEventListener", "wake", b.wake.Value) // a pending timer now wakes nobody
	b.wake.Release()
}
