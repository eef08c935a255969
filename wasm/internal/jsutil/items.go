//go:build js && wasm

package jsutil

import (
	"syscall/js"
	"unsafe"
)

// maxKeys bounds BatchOptions.Keys.
const maxKeys = 8

// Value kinds of a field.
const (
	kindMissing = iota // undefined
	kindString
	kindNumber
	kindBool
	kindOther // null, an object (an ArrayBuffer or Blob), …
)

type field struct {
	kind byte
	b    []byte   // kindString: the decoded UTF-8
	num  float64  // kindNumber; kindBool: 1 or 0
	v    js.Value // kindOther, when read with Get: the value itself
	obj  int      // kindOther from the helper: index in vals
}

// Items is one drained batch of events: Len events with the fields
// named by BatchOptions.Keys, in that order.
type Items struct {
	keys   []string
	arr    js.Value // the queued events, or undefined for one event
	ev     js.Value // that one event
	n      int
	buf    []byte
	fields []field  // n × len(keys)
	text   bool     // from the helper script: strings and objects, no events
	vals   js.Value // from the helper script: its objects (q.taken)
}

func (it *Items) reset(keys []string, arr js.Value, n int) {
	it.keys, it.arr, it.ev, it.n, it.buf, it.text = keys, arr, js.Undefined(), n, nil, false
	need := n * len(keys)
	if cap(it.fields) < need || cap(it.fields) > 4*need+64 {
		it.fields = make([]field, need)
	} else {
		it.fields = it.fields[:need]
		clear(it.fields)
	}
}

// done drops the batch's references to JavaScript values.
func (it *Items) done() {
	it.arr, it.ev, it.vals = js.Undefined(), js.Undefined(), js.Undefined()
	clear(it.fields)
}

// Len returns the number of events.
func (it *Items) Len() int { return it.n }

// get returns field k of event i; a k beyond the keys reads as missing.
//
//go:noinline
func (it *Items) get(i, k int) field {
	if k < 0 || k >= len(it.keys) {
		return field{}
	}
	return it.fields[i*len(it.keys)+k]
}

func (it *Items) at(i, k int) *field { return &it.fields[i*len(it.keys)+k] }

// String returns key k of event i if it is a string. The string shares
// the batch's buffer (no copy). Not inlined: called per key by every
// batch consumer.
//
//go:noinline
func (it *Items) String(i, k int) (string, bool) {
	f := it.get(i, k)
	if f.kind != kindString {
		return "", false
	}
	if len(f.b) == 0 {
		return "", true
	}
	return unsafe.String(&f.b[0], len(f.b)), true
}

// Bytes is String as a []byte whose capacity ends at its length.
func (it *Items) Bytes(i, k int) ([]byte, bool) {
	f := it.get(i, k)
	if f.kind != kindString {
		return nil, false
	}
	return f.b, true
}

// Float returns key k of event i if it is a number.
func (it *Items) Float(i, k int) (float64, bool) {
	f := it.get(i, k)
	return f.num, f.kind == kindNumber
}

// Bool returns key k of event i if it is a boolean.
func (it *Items) Bool(i, k int) (v, ok bool) {
	f := it.get(i, k)
	return f.num != 0, f.kind == kindBool
}

// Value returns key k of event i as a JavaScript value, e.g. an
// ArrayBuffer. From the helper script only an object is kept (anything
// else that is not a string reads as undefined). Only during OnBatch.
func (it *Items) Value(i, k int) js.Value {
	f := it.get(i, k)
	if f.kind == kindOther && it.text {
		return it.vals.Index(f.obj)
	}
	if f.kind == kindOther && !f.v.IsUndefined() {
		return f.v
	}
	if k < 0 || k >= len(it.keys) || it.text {
		return js.Undefined()
	}
	return it.Event(i).Get(it.keys[k])
}

// Event returns event i itself (undefined from the helper script). Only
// during OnBatch.
func (it *Items) Event(i int) js.Value {
	if it.text {
		return js.Undefined()
	}
	if it.arr.IsUndefined() {
		return it.ev
	}
	return it.arr.Index(i)
}

// slow reads every queued event's fields with Get.
func (it *Items) slow() {
	clear(it.fields)
	for i := 0; i < it.n; i++ {
		it.read(i, it.arr.Index(i))
	}
}

// one reads a batch of the one event ev, which is not in an array.
func (it *Items) one(ev js.Value) {
	it.ev = ev
	it.read(0, ev)
}

// read fills the fields of event i with Get. (String, then a copy, costs
// fewer boundary calls and finalizers than TextEncoder for one string.)
func (it *Items) read(i int, ev js.Value) {
	for k, key := range it.keys {
		f := it.at(i, k)
		v := ev.Get(key)
		switch v.Type() {
		case js.TypeUndefined:
		case js.TypeString:
			// String's result is a fresh copy that nothing else holds, so
			// it may be handed out as bytes without another copy.
			str := v.String()
			f.kind, f.b = kindString, unsafe.Slice(unsafe.StringData(str), len(str))
		case js.TypeNumber:
			f.kind, f.num = kindNumber, v.Float()
		case js.TypeBoolean:
			f.kind = kindBool
			if v.Equal(js.ValueOf(true)) {
				f.num = 1
			}
		default:
			f.kind, f.v = kindOther, v
		}
	}
}

// parseText decodes the helper script's bytes: per event and key a
// 4-byte little-endian length and that many bytes of UTF-8, the length
// 0xFFFFFFFE for an object (the next one of q.taken), or 0xFFFFFFFF for
// any other value that is not a string. It returns the number of whole
// events read (it.n unless the bytes are not the helper's) and of objects.
func (it *Items) parseText() (int, int) {
	b, p, objs := it.buf, 0, 0
	for i := 0; i < it.n; i++ {
		for k := range it.keys {
			if len(b)-p < 4 {
				return i, objs
			}
			n := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16 | uint32(b[p+3])<<24
			p += 4
			if n == 0xFFFFFFFE {
				*it.at(i, k) = field{kind: kindOther, obj: objs}
				objs++
				continue
			}
			if n == 0xFFFFFFFF {
				continue
			}
			if uint64(n) > uint64(len(b)-p) {
				return i, objs
			}
			end := p + int(n)
			*it.at(i, k) = field{kind: kindString, b: b[p:end:end]}
			p = end
		}
	}
	return it.n, objs
}
