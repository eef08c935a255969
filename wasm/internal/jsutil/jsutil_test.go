//go:build js && wasm

package jsutil_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/internal/testenv"
)

func TestListenDeliversAndRemoves(t *testing.T) {
	base := testenv.MeasureRefs()
	target := js.Global().Get("EventTarget").New()
	got := make(chan string, 10)
	remove := jsutil.Listen(target, "ping", func(ev js.Value) {
		select {
		case got <- ev.Get("type").String():
		default:
		}
	})
	if n := jsutil.LiveFuncs(); n != base.Funcs+1 {
		t.Fatalf("LiveFuncs after Listen = %d, want %d", n, base.Funcs+1)
	}
	target.Call("dispatchEvent", js.Global().Get("Event").New("ping"))
	select {
	case typ := <-got:
		if typ != "ping" {
			t.Fatalf("event type %q, want ping", typ)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("listener never ran")
	}
	remove()
	remove() // idempotent
	target.Call("dispatchEvent", js.Global().Get("Event").New("ping"))
	select {
	case <-got:
		t.Fatal("listener ran after remove")
	case <-time.After(20 * time.Millisecond):
	}
	testenv.CheckRefs(t, base, 5)
}

func TestTryTurnsExceptionIntoError(t *testing.T) {
	global := js.Global()
	tests := []struct {
		name     string
		throw    func()
		wantName string
	}{
		{"SyntaxError", func() { global.Get("JSON").Call("parse", "{bad") }, "SyntaxError"},
		{"RangeError", func() { global.Get("Uint8Array").New(-1) }, "RangeError"},
		{"TypeError", func() { global.Get("Reflect").Call("ownKeys", 1) }, "TypeError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := jsutil.Try(tc.throw)
			var jerr *jsutil.Error
			if !errors.As(err, &jerr) {
				t.Fatalf("Try = %v, want *jsutil.Error", err)
			}
			if jerr.Name != tc.wantName || jerr.Message == "" {
				t.Errorf("got %q: %q, want %s with a message", jerr.Name, jerr.Message, tc.wantName)
			}
		})
	}
	if err := jsutil.Try(func() {}); err != nil {
		t.Errorf("Try(no throw) = %v, want nil", err)
	}
	// A thrown value that is not an Error object still becomes a message.
	if e := jsutil.ErrorFrom(js.ValueOf("plain")); e.Message != "plain" || e.Name != "" {
		t.Errorf("ErrorFrom(string) = %+v", e)
	}
	if e := jsutil.ErrorFrom(js.ValueOf(7)); e.Message != "7" {
		t.Errorf("ErrorFrom(7) = %+v", e)
	}
	if e := jsutil.ErrorFrom(js.Global().Get("Object").New()); e.Message != "[object Object]" || e.Name != "" {
		t.Errorf("ErrorFrom({}) = %+v", e)
	}
	obj := js.Global().Get("Object").New()
	obj.Set("message", "only a message")
	if e := jsutil.ErrorFrom(obj); e.Message != "only a message" || e.Name != "" {
		t.Errorf("ErrorFrom({message}) = %+v", e)
	}
	// Go panics that are not JS exceptions pass through.
	defer func() {
		if r := recover(); r != "go panic" {
			t.Errorf("recovered %v, want the Go panic to pass through Try", r)
		}
	}()
	jsutil.Try(func() { panic("go panic") })
}

func TestCallAndNew(t *testing.T) {
	if _, err := jsutil.Call(js.Global().Get("JSON"), "parse", "{bad"); err == nil {
		t.Fatal("JSON.parse of bad input: no error")
	} else if jerr := (*jsutil.Error)(nil); !errors.As(err, &jerr) || jerr.Name != "SyntaxError" {
		t.Fatalf("JSON.parse error = %v, want a SyntaxError", err)
	}
	v, err := jsutil.Call(js.Global().Get("Math"), "max", 3, 9, 4)
	if err != nil || v.Int() != 9 {
		t.Fatalf("Math.max = %v, %v; want 9", v, err)
	}
	if _, err := jsutil.New(js.Global().Get("Uint8Array"), -1); err == nil {
		t.Fatal("new Uint8Array(-1): no error")
	}
	if _, ok := jsutil.Global("NoSuchGlobalForComet"); ok {
		t.Fatal("Global reported an undefined name as present")
	}
}

func TestBytesRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 1 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		u8 := jsutil.BytesToJS(b)
		if got := u8.Get("byteLength").Int(); got != n {
			t.Fatalf("Uint8Array length %d, want %d", got, n)
		}
		back, err := jsutil.BytesToGo(u8)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("Uint8Array round trip of %d bytes failed: %v", n, err)
		}
		fromBuf, err := jsutil.BytesToGo(u8.Get("buffer"))
		if err != nil || !bytes.Equal(fromBuf, b) {
			t.Fatalf("ArrayBuffer round trip of %d bytes failed: %v", n, err)
		}
	}
	// A view on part of a buffer copies only its window.
	buf := jsutil.BytesToJS([]byte("0123456789")).Get("buffer")
	view := js.Global().Get("DataView").New(buf, 2, 3)
	if got, err := jsutil.BytesToGo(view); err != nil || string(got) != "234" {
		t.Fatalf("DataView window = %q, %v; want \"234\"", got, err)
	}
	if _, err := jsutil.BytesToGo(js.ValueOf("text")); err == nil {
		t.Fatal("BytesToGo(string): no error")
	}
}

func TestAwait(t *testing.T) {
	base := testenv.MeasureRefs()
	promise := js.Global().Get("Promise")
	ctx := context.Background()

	v, err := jsutil.Await(ctx, promise.Call("resolve", 42))
	if err != nil || v.Int() != 42 {
		t.Fatalf("Await(resolve 42) = %v, %v", v, err)
	}
	_, err = jsutil.Await(ctx, promise.Call("reject", js.Global().Get("Error").New("nope")))
	var jerr *jsutil.Error
	if !errors.As(err, &jerr) || jerr.Message != "nope" {
		t.Fatalf("Await(reject) = %v, want *jsutil.Error nope", err)
	}

	// A promise that settles later: ctx ends first, and the callbacks are
	// released once it settles.
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		js.Global().Call("setTimeout", args[0], 50, 1)
		return nil
	})
	defer executor.Release()
	delayed := promise.New(executor)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := jsutil.Await(cctx, delayed); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await past deadline = %v, want DeadlineExceeded", err)
	}
	time.Sleep(100 * time.Millisecond)
	testenv.CheckRefs(t, base, 5)
}

func TestLeakCounterSeesALeak(t *testing.T) {
	// The leak check itself must be able to fail.
	base := testenv.MeasureRefs()
	f := jsutil.FuncOf(func(js.Value, []js.Value) any { return nil })
	if jsutil.LiveFuncs() != base.Funcs+1 {
		t.Fatalf("LiveFuncs did not count a new func")
	}
	held := make([]js.Value, 0, 100)
	for i := range 100 {
		held = append(held, js.Global().Get("Object").New(i))
	}
	if r := jsutil.LiveRefs(); base.Refs >= 0 && r < base.Refs+100 {
		t.Fatalf("LiveRefs = %d with 100 objects held, baseline %d", r, base.Refs)
	}
	runtime.KeepAlive(held)
	f.Release()
	f.Release()
	testenv.CheckRefs(t, base, 5)
}
