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
// each event is Array.prototype.push bound to the array: a native
// function, so no Go code runs to queue an event (no eval either: a page
// CSP without 'unsafe-eval' is fine).
//
// Go is woken in two ways. While the target is quiet, a Go func added
// with {once: true} beside the push wakes Go at the first event, so a
// lone message (a ping-pong reply) costs no extra task. That wake then
// schedules a follow-up wake as a new task (setTimeout bound to a private
// EventTarget's dispatchEvent, whose one listener is Go): the events the
// browser dispatches before it (the rest of a network chunk, a burst of
// messages) wait in the array and reach Go together. A follow-up that
// finds events schedules another; one that finds none re-arms the once
// listener. Each wake drains the array with one JSON.stringify call
// limited to BatchOptions.Keys (it reads prototype getters such as
// MessageEvent.data) and copies that JSON into Go once: about seven
// boundary calls and two finalizer-tracked js.Values per batch, whatever
// its size. (The EventTarget lets Release drop Go's func while a
// follow-up is still pending.)
//
// Flush drains at once; a listener that must see every earlier event (a
// close or error event) calls it first. Release removes the listeners
// and releases the two js.Funcs; the Batch owns them.
type Batch struct {
	target   js.Value
	names    []js.Value
	keys     []string
	jsKeys   js.Value
	arr      js.Value
	push     js.Value
	schedule js.Value // setTimeout.bind(globalThis, waker.dispatchEvent.bind(waker, ev), 0)
	onceOpt  js.Value
	waker    js.Value // EventTarget whose listener is later
	first    Func     // the once listener: the first event after a quiet spell
	later    Func     // the follow-up wake
	onBatch  func(*Items)

	mu       sync.Mutex
	released bool
	pending  bool // a follow-up wake is scheduled
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
	b.first = FuncOf(func(js.Value, []js.Value) any {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.names) > 1 && !b.released { // once removed only the one that fired
			for _, n := range b.names {
				b.target.Call("removeEventListener", n, b.first.Value, b.onceOpt)
			}
		}
		b.flushLocked()
		return nil
	})
	b.later = FuncOf(func(js.Value, []js.Value) any {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.pending = false
		if b.flushLocked() == 0 && !b.released {
			b.armFirst() // quiet again
		}
		return nil
	})
	b.waker = eventTarget.New()
	b.waker.Call("addEventListener", "wake", b.later.Value)
	dispatch := b.waker.Get("dispatchEvent").Call("bind", b.waker, eventCtor.New("wake"))
	b.schedule = setTimeout.Call("bind", js.Global(), dispatch, 0)
	b.onceOpt = objectCtor.New()
	b.onceOpt.Set("once", true)
	for _, name := range opts.Events {
		n := js.ValueOf(name)
		b.names = append(b.names, n)
		target.Call("addEventListener", n, b.push)
	}
	b.armFirst()
	return b
}

// armFirst adds the once listener (again). Adding a listener that is
// still there does nothing.
func (b *Batch) armFirst() {
	for _, n := range b.names {
		b.target.Call("addEventListener", n, b.first.Value, b.onceOpt)
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

// flushLocked drains the array and returns how many events it held. After
// events it makes sure a follow-up wake is scheduled: more may be coming.
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
	if !b.pending {
		b.pending = true
		b.schedule.Invoke()
	}
	return n
}

// Release drains what is queued, removes the listeners and releases the
// wake funcs. It is idempotent.
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
			b.target.Call("removeEventListener", n, b.push)
			b.target.Call("removeEventListener", n, b.first.Value, b.onceOpt)
		})
	}
	b.waker.Call("removeEventListener", "wake", b.later.Value) // a pending follow-up now wakes nobody
	b.first.Release()
	b.later.Release()
}
