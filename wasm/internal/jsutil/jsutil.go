//go:build js && wasm

package jsutil

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"
	"unicode/utf8"
)

// liveFuncs counts funcs made by FuncOf and not yet released. It is the one
// piece of package state: a process-wide instrument, like runtime stats.
var liveFuncs atomic.Int64

// Func is a js.Func whose Release is counted and safe to call more than once.
type Func struct {
	// Value is the JavaScript function. A field, not an embedded js.Func:
	// every js.Value method would be promoted, each listed in this
	// type's information and in its pointer type's.
	Value    js.Value
	fn       js.Func
	released *atomic.Bool
}

// FuncOf is js.FuncOf, counted by LiveFuncs until Release.
func FuncOf(fn func(this js.Value, args []js.Value) any) Func {
	liveFuncs.Add(1)
	f := js.FuncOf(fn)
	return Func{Value: f.Value, fn: f, released: new(atomic.Bool)}
}

// Release frees the func. Later calls do nothing. It may be called while
// the func is running. Not inlined: one copy, not one per caller.
//
//go:noinline
func (f Func) Release() {
	if f.released.CompareAndSwap(false, true) {
		f.fn.Release()
		liveFuncs.Add(-1)
	}
}

// LiveFuncs returns the number of funcs made by FuncOf and not released.
func LiveFuncs() int { return int(liveFuncs.Load()) }

// LiveRefs returns the number of JavaScript values the Go side holds
// references to, after collecting garbage, or -1 when the Go instance is not
// at globalThis.__cometGo. Call it from a goroutine, never from a callback.
func LiveRefs() int {
	for range 3 {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // lets finalizers drop their refs
	}
	g := js.Global().Get("__cometGo")
	if g.IsUndefined() || g.IsNull() {
		return -1
	}
	ids := g.Get("_ids")
	if ids.IsUndefined() {
		return -1
	}
	return ids.Get("size").Int()
}

// Listen adds fn as a listener for event on target and returns the func that
// removes it and releases the js.Func. remove is idempotent. fn runs on the
// event loop and must only hand off.
func Listen(target js.Value, event string, fn func(ev js.Value)) (remove func()) {
	l := &Listeners{}
	l.Add(target, event, fn)
	return l.RemoveAll
}

// Listeners holds listeners so one call removes them all.
type Listeners struct {
	mu sync.Mutex
	ls []listener
}

type listener struct {
	target js.Value
	event  string
	f      Func
}

// Add adds fn as a listener for event on target, as Listen does, until
// RemoveAll.
func (l *Listeners) Add(target js.Value, event string, fn func(ev js.Value)) {
	f := FuncOf(func(_ js.Value, args []js.Value) any {
		fn(arg0(args))
		return nil
	})
	target.Call("addEventListener", event, f.Value)
	l.mu.Lock()
	l.ls = append(l.ls, listener{target, event, f})
	l.mu.Unlock()
}

// RemoveAll removes every listener added so far and releases its
// js.Func. It is idempotent.
func (l *Listeners) RemoveAll() {
	l.mu.Lock()
	ls := l.ls
	l.ls = nil
	l.mu.Unlock()
	for _, x := range ls {
		Call(x.target, "removeEventListener", x.event, x.f.Value)
		x.f.Release()
	}
}

// Signal wakes one waiter without blocking: a channel of one slot, where a
// send that finds the slot full is dropped because a wake-up is pending.
type Signal chan struct{}

// NewSignal returns a Signal ready to use.
func NewSignal() Signal { return make(Signal, 1) }

// Notify wakes the waiter, or does nothing if a wake-up is already pending.
// Safe to call from a callback. Not inlined: one copy for its many callers.
//
//go:noinline
func (s Signal) Notify() {
	select {
	case s <- struct{}{}:
	default:
	}
}

// Await waits for promise to settle. It returns the fulfilled value, an
// *Error for a rejection, or ctx.Err() if ctx ends first. It never blocks
// the event loop; its callback releases itself when the promise settles.
func Await(ctx context.Context, promise js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	// One func for both outcomes, bound to true (fulfilled) or false
	// (rejected); only one of the two runs.
	var f Func
	f = FuncOf(func(_ js.Value, args []js.Value) any {
		v := js.Undefined()
		if len(args) > 1 {
			v = args[1]
		}
		if len(args) > 0 && args[0].Equal(js.ValueOf(true)) {
			done <- result{v: v} // buffered: never blocks
		} else {
			done <- result{err: ErrorFrom(v)}
		}
		f.Release()
		return nil
	})
	then, catch := f.Value.Call("bind", js.Null(), true), f.Value.Call("bind", js.Null(), false)
	if _, err := Call(promise, "then", then, catch); err != nil {
		f.Release()
		return js.Undefined(), err
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return js.Undefined(), ctx.Err()
	}
}

func arg0(args []js.Value) js.Value {
	if len(args) == 0 {
		return js.Undefined()
	}
	return args[0]
}

// Quote returns s in double quotes, with ", \ and bytes below 0x20, 0x7f
// or outside valid UTF-8 escaped (\" \\ \xNN). Unlike strconv.Quote it
// keeps every other character as is, and needs no Unicode tables.
func Quote(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || n > 1 {
				b = append(b, s[i:i+n]...)
				i += n
				continue
			}
		}
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f || c >= utf8.RuneSelf:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
		i++
	}
	return string(append(b, '"'))
}
