//go:build js && wasm

package jsutil

import (
	"syscall/js"
)

// Error is a JavaScript exception or rejection reason as a Go error.
type Error struct {
	_       [0]func() // not comparable: no equality function linked (use *Error)
	Name    string    // e.g. "TypeError", "SyntaxError", "InvalidAccessError"
	Message string
}

func (e *Error) Error() string {
	if e.Name == "" {
		return "js: " + e.Message
	}
	return "js: " + e.Name + ": " + e.Message // no fmt: it costs core packages 0.4 MB
}

// ErrorFrom turns a thrown or rejected JavaScript value into an *Error.
func ErrorFrom(v js.Value) *Error {
	e := &Error{}
	switch v.Type() {
	case js.TypeObject:
		name, msg := v.Get("name"), v.Get("message")
		isName, isMsg := name.Type() == js.TypeString, msg.Type() == js.TypeString
		if isName {
			e.Name = name.String()
		}
		if isMsg {
			e.Message = msg.String()
		}
		if isName || isMsg {
			return e
		}
	case js.TypeString:
		e.Message = v.String()
		return e
	}
	e.Message = js.Global().Get("String").Invoke(v).String()
	return e
}

// Try runs fn and returns any JavaScript exception it throws as an *Error.
// Go panics that are not JavaScript exceptions pass through.
func Try(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			err = ErrorFrom(jsErr.Value)
		}
	}()
	fn()
	return nil
}

// Call calls v[method](args...) and returns a thrown exception as an *Error.
// Not inlined, like New: one closure, not one per caller.
//
//go:noinline
func Call(v js.Value, method string, args ...any) (result js.Value, err error) {
	err = Try(func() { result = v.Call(method, args...) })
	return result, err
}

// New calls new ctor(args...) and returns a thrown exception as an *Error.
//
//go:noinline
func New(ctor js.Value, args ...any) (result js.Value, err error) {
	err = Try(func() { result = ctor.New(args...) })
	return result, err
}

// IsNative reports whether ctor is the environment's own constructor, not
// a polyfill written in JavaScript (whose source does not read
// "[native code]").
func IsNative(ctor js.Value) bool {
	const native = "[native code]"
	s := js.Global().Get("Function").Get("prototype").Get("toString").Call("call", ctor).String()
	for i := 0; i+len(native) <= len(s); i++ {
		if s[i:i+len(native)] == native {
			return true
		}
	}
	return false
}

// Global returns globalThis[name] and whether it is defined (not undefined
// or null): node 20 has no XMLHttpRequest, EventSource or WebSocket.
func Global(name string) (js.Value, bool) {
	v := js.Global().Get(name)
	return v, !v.IsUndefined() && !v.IsNull()
}
