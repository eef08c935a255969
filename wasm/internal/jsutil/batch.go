//go:build js && wasm

package jsutil

import (
	"sync"
	"syscall/js"
)

// Native JavaScript functions the batch path uses. No Go code and no
// JavaScript of comet's own runs per queued event.
var (
	arrayCtor    = js.Global().Get("Array")
	setTimeout   = js.Global().Get("setTimeout")
	clearTimeout = js.Global().Get("clearTimeout")
	objectCtor   = js.Global().Get("Object")
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
	// Defer sends every event through the array, the first of a batch
	// too: best for a stream nobody answers (SSE). Without it the first
	// event after a quiet spell wakes Go at once (a ping-pong reply costs
	// no extra task) and only the events behind it are batched. Defaults
	// to false.
	Defer bool
	// Strings says every key is read with String or Bytes, or is an
	// object read with Value (as an SSE or WebSocket MessageEvent's data
	// is). A batch then uses the page's helper script
	// (comet_batch.js, globalThis.cometBatch) when it is loaded: its
	// listener appends each event's strings as length-prefixed UTF-8 to
	// one byte buffer that a drain copies into Go once (objects go into
	// an array). As without it, the first event after a quiet spell wakes
	// Go at once unless Defer is set; there is no direct mode. A value that is
	// neither a string nor an object then reads as missing, and
	// Items.Event returns undefined. Defaults to false.
	Strings bool
}

// Batch hands the events of a target to Go once per batch instead of once
// per event. Every event goes into a JavaScript array through
// Array.prototype.push bound to that array: a native function, so no Go
// code runs to queue an event and nothing needs eval (a page CSP without
// 'unsafe-eval' is fine).
//
// A drain reads each queued event's Keys with Get (prototype getters
// such as MessageEvent.data included): no Go code ran to queue them, and
// a batch wakes Go once. (With the helper script a drain is one copy of
// its bytes into Go instead.)
//
// Go is woken so. Beside the push, a listener added with {once: true}
// notices the first event after a quiet spell: Go's own func (which
// drains at once), or with BatchOptions.Defer a native function that
// posts a task (a MessageChannel message; setTimeout where there is
// none) to run the probe below. The probe, run as that new task, is
// Array.prototype.forEach bound to the array and to Go's drain func: it
// enters Go only if events are waiting, once, since the drain empties the
// array and forEach skips what is gone. So the events the browser
// dispatches before the probe (the rest of a network chunk, a burst of
// messages) reach Go together, and a probe that finds none costs no call
// into Go. Without Defer, the probe's task first re-adds the once
// listener, so an event after it wakes Go itself.
//
// Direct mode (one event type, without Defer): when two probes in a row
// found nothing behind a lone event, the traffic is a ping-pong, where
// the probe's task and the queue are pure cost. Go's func then becomes a
// permanent listener and the push is removed: an event is one call into
// Go, with nothing queued and no task posted. After 8 such events (then
// 16, … up to 256 while the trials stay empty) the batch tries the queue
// again with one probe; a probe that finds events resets the gap.
//
// Flush drains at once; a listener that must see every earlier event (a
// close or error event) calls it first. Release removes the listeners
// and releases the js.Funcs; the Batch owns them.
type Batch struct {
	target   js.Value
	names    []js.Value
	keys     []string
	arr      js.Value
	push     js.Value
	onceOpt  js.Value
	probe    js.Value    // forEach bound to arr and later
	arm      js.Value    // the once listener: first, or post
	post     js.Value    // queues the task: port1.postMessage bound to (0, undefined)
	ports    [2]js.Value // a MessageChannel's, or undefined where there is none
	first    Func        // without Defer: the first event after a quiet spell
	later    Func        // called by the probe
	onBatch  func(*Items)
	deferAll bool
	q        js.Value // the helper script's queue, or undefined

	mu       sync.Mutex
	released bool
	timer    js.Value // without a MessageChannel: the last task's timer id
	items    Items

	// Direct mode (one event type, no Defer): after emptyProbes probes
	// in a row found nothing behind a lone event (a ping-pong), first
	// becomes a permanent listener and push is removed, so an event is
	// one call into Go and nothing else; after left such events one probe
	// is tried again (gap doubles up to maxGap while probes stay empty).
	direct  bool
	probing bool // a probe was posted since the last onFirst
	found   bool // … and it found events (later ran)
	empties int
	gap     int
	left    int
}

// Direct mode: two empty probes in a row switch to it; a trial probe
// comes after minGap events at first, then after up to maxGap.
const (
	emptyProbes = 2
	minGap      = 8
	maxGap      = 256
)

// NewBatch starts queuing opts.Events of target.
func NewBatch(target js.Value, opts BatchOptions) *Batch {
	b := &Batch{target: target, keys: opts.Keys, onBatch: opts.OnBatch, deferAll: opts.Defer, gap: minGap}
	if len(b.keys) > maxKeys {
		panic("jsutil: NewBatch: more than 8 keys")
	}
	b.later = FuncOf(func(js.Value, []js.Value) any {
		b.mu.Lock()
		b.found = true
		b.flushLocked(js.Undefined())
		b.mu.Unlock()
		return nil
	})
	if h, ok := helper(); ok && opts.Strings {
		// The helper owns its listener and task; Go's one func is its wake.
		b.q = h.Call("queue", target, stringArray(opts.Events), stringArray(opts.Keys), b.later.Value, !opts.Defer)
		return b
	}
	b.arr = arrayCtor.New()
	b.push = b.arr.Get("push").Call("bind", b.arr)
	b.onceOpt = objectCtor.New()
	b.onceOpt.Set("once", true)
	b.probe = b.arr.Get("forEach").Call("bind", b.arr, b.later.Value)
	if !b.deferAll {
		b.first = FuncOf(func(_ js.Value, args []js.Value) any {
			b.onFirst(arg0(args))
			return nil
		})
	}
	add := target.Get("addEventListener")
	var steps []any // without Defer: addEventListener(name, first, once) per name, then the probe
	for _, name := range opts.Events {
		n := js.ValueOf(name)
		b.names = append(b.names, n)
		target.Call("addEventListener", n, b.push)
		if !b.deferAll {
			steps = append(steps, add.Call("bind", target, n, b.first.Value, b.onceOpt))
		}
	}
	task := b.probe
	if !b.deferAll {
		// One task runs the steps in order: [steps].forEach(Reflect.apply)
		// calls each step with the list as its (ignored) arguments.
		list := js.ValueOf(append(steps, b.probe))
		task = list.Get("forEach").Call("bind", list, js.Global().Get("Reflect").Get("apply"))
	}
	// The task is a MessageChannel message: posted tasks run in order with
	// the network's, where a zero timeout may wait behind them on a busy
	// page. setTimeout where there is no MessageChannel.
	if mc, ok := Global("MessageChannel"); ok {
		ch := mc.New()
		b.ports = [2]js.Value{ch.Get("port1"), ch.Get("port2")}
		b.ports[1].Set("onmessage", task)
		if u := b.ports[1].Get("unref"); u.Type() == js.TypeFunction {
			b.ports[1].Call("unref") // node: an idle port must not keep the process alive
		}
		b.post = b.ports[0].Get("postMessage").Call("bind", b.ports[0], 0, js.Undefined())
	} else {
		b.post = setTimeout.Call("bind", js.Global(), task, 0)
	}
	b.arm = b.post
	if !b.deferAll {
		b.arm = b.first.Value
	}
	b.armAll()
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

// armAll adds the once listener (again; adding one that is still there
// does nothing).
func (b *Batch) armAll() {
	for _, n := range b.names {
		b.target.Call("addEventListener", n, b.arm, b.onceOpt)
	}
}

// onFirst takes the first event after a quiet spell at once, and
// schedules the re-arming and the probe for those behind it.
func (b *Batch) onFirst(ev js.Value) {
	b.mu.Lock()
	b.onFirstLocked(ev)
	b.mu.Unlock()
}

func (b *Batch) onFirstLocked(ev js.Value) {
	if b.released {
		return
	}
	if b.direct {
		it := &b.items
		it.reset(b.keys, js.Undefined(), 1)
		it.one(ev)
		b.onBatch(it)
		it.done()
		if b.left--; b.left > 0 {
			return
		}
		// Try batching again: events behind this one queue, and the
		// task below re-arms the once listener and probes for them.
		b.direct = false
		b.target.Call("removeEventListener", b.names[0], b.first.Value)
		b.target.Call("addEventListener", b.names[0], b.push)
		b.probing, b.found = true, false
		b.timer = b.post.Invoke()
		return
	}
	if len(b.names) > 1 { // once removed only the listener that fired
		for _, n := range b.names {
			b.target.Call("removeEventListener", n, b.arm, b.onceOpt)
		}
	}
	b.flushLocked(ev)
	if b.probing {
		if b.found {
			b.empties, b.gap = 0, minGap
		} else {
			b.empties++
		}
	}
	if len(b.names) == 1 && b.empties >= emptyProbes {
		// Nothing came behind the last lone events: take events one by
		// one, with no queue and no task (a pending task's re-arm adds a
		// listener already there, and its probe finds the queue empty).
		b.direct, b.probing, b.empties = true, false, 0
		b.left, b.gap = b.gap, min(2*b.gap, maxGap)
		b.target.Call("removeEventListener", b.names[0], b.push)
		b.target.Call("addEventListener", b.names[0], b.first.Value)
		return
	}
	// One task re-arms, then probes: an event that comes after it finds
	// the once listener armed, and one before it is in the array when the
	// probe runs. None is left waiting.
	b.probing, b.found = true, false
	b.timer = b.post.Invoke() // a timer id without a MessageChannel
}

// Flush hands the queued events to OnBatch now. Safe from a callback
// and from a goroutine; after Release it does nothing. OnBatch must not
// call Flush or Release.
func (b *Batch) Flush() {
	b.mu.Lock()
	b.flushLocked(js.Undefined())
	b.mu.Unlock()
}

// flushLocked drains the array. ev, if defined, is the event that woke Go;
// when it is the only one queued it is read directly.
func (b *Batch) flushLocked(ev js.Value) {
	if b.released {
		return
	}
	if !b.q.IsUndefined() {
		b.flushText()
		return
	}
	n := b.arr.Length()
	if n == 0 {
		return
	}
	it := &b.items
	if n == 1 && !ev.IsUndefined() {
		it.reset(b.keys, js.Undefined(), 1)
		it.one(ev)
	} else {
		it.reset(b.keys, b.arr, n)
		it.slow()
	}
	b.onBatch(it)
	it.done()
	b.arr.Set("length", 0)
	if b.deferAll {
		b.armAll() // its probe may find the array empty and not call Go
	}
}

// Release drains what is queued, removes the listeners and releases the
// funcs. It is idempotent.
func (b *Batch) Release() {
	b.mu.Lock()
	b.releaseLocked()
	b.mu.Unlock()
}

func (b *Batch) releaseLocked() {
	b.flushLocked(js.Undefined())
	if b.released {
		return
	}
	b.released = true
	if !b.q.IsUndefined() {
		Call(b.q, "close") // removes its listeners and drops the wake
		b.q = js.Undefined()
		b.later.Release()
		return
	}
	for _, n := range b.names {
		Call(b.target, "removeEventListener", n, b.push)
		Call(b.target, "removeEventListener", n, b.arm, b.onceOpt) // also the direct listener
	}
	if !b.ports[0].IsUndefined() {
		// A task still queued must not re-add a released func.
		b.ports[1].Set("onmessage", js.Null())
		b.ports[0].Call("close")
		b.ports[1].Call("close")
	}
	if b.timer.Type() == js.TypeNumber {
		clearTimeout.Invoke(b.timer) // a re-arm must not add a released func
	}
	// A Defer timer still pending finds the array empty (no push adds to
	// it now), so its probe calls nothing.
	if !b.deferAll {
		b.first.Release()
	}
	b.later.Release()
}

// helper returns the page's helper script (comet_batch.js), if loaded.
func helper() (js.Value, bool) {
	h := js.Global().Get("cometBatch")
	if h.Type() != js.TypeObject || !h.Get("version").Equal(js.ValueOf(4)) {
		return js.Value{}, false
	}
	return h, true
}

// flushText drains the helper's queue: its bytes, copied into Go once.
func (b *Batch) flushText() {
	n := b.q.Get("n").Int()
	if n == 0 {
		return
	}
	it := &b.items
	it.reset(b.keys, js.Undefined(), n)
	it.text = true
	u8 := b.q.Call("take")
	it.buf = make([]byte, u8.Length())
	js.CopyBytesToGo(it.buf, u8)
	var objs int
	it.n, objs = it.parseText()
	if objs > 0 {
		it.vals = b.q.Get("taken")
	}
	b.onBatch(it)
	it.done()
}

// UsesHelper reports whether the batch queues through the helper script.
func (b *Batch) UsesHelper() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.q.IsUndefined()
}
