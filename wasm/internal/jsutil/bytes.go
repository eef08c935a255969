//go:build js && wasm

package jsutil

import (
	"errors"
	"syscall/js"
)

var (
	uint8Array  = js.Global().Get("Uint8Array")
	arrayBuffer = js.Global().Get("ArrayBuffer")
)

// errNotBytes is returned for a value that is neither an ArrayBuffer nor a
// view on one.
var errNotBytes = errors.New("jsutil: value is not an ArrayBuffer or ArrayBuffer view")

// BytesToGo copies an ArrayBuffer, a typed array or a DataView into a new
// []byte.
func BytesToGo(v js.Value) ([]byte, error) {
	var u8 js.Value
	switch {
	case v.Type() != js.TypeObject:
		return nil, errNotBytes
	case v.InstanceOf(uint8Array):
		u8 = v
	case v.InstanceOf(arrayBuffer):
		u8 = uint8Array.New(v)
	case arrayBuffer.Call("isView", v).Equal(js.ValueOf(true)):
		u8 = uint8Array.New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength"))
	default:
		return nil, errNotBytes
	}
	b := make([]byte, u8.Get("byteLength").Int())
	js.CopyBytesToGo(b, u8)
	return b, nil
}

// NewUint8Array returns a new zeroed Uint8Array of n bytes.
func NewUint8Array(n int) js.Value { return uint8Array.New(n) }

// BytesToJS copies b into a new Uint8Array.
func BytesToJS(b []byte) js.Value {
	u8 := uint8Array.New(len(b))
	js.CopyBytesToJS(u8, b)
	return u8
}

// ArrayBufferToGo copies the n bytes of ArrayBuffer ab (n is its
// byteLength, which the caller has read) into a new []byte: two calls
// into JavaScript, where BytesToGo, which first finds out what v is,
// makes four.
func ArrayBufferToGo(ab js.Value, n int) []byte {
	b := make([]byte, n)
	if n > 0 {
		js.CopyBytesToGo(b, uint8Array.New(ab))
	}
	return b
}
