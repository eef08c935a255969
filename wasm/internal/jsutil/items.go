//go:build js && wasm

package jsutil

import (
	"math"
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
	num  float64  // kindNumber; kindBool: 1 or 0; kindOther from the helper: index in vals
	v    js.Value // kindOther, when read with Get: the value itself
}

// Items is one drained batch of events: Len events with the fields
// named by BatchOptions.Keys, in that order.
type Items struct {
	keys   []string
	n      int
	buf    []byte
	fields []field  // n × len(keys)
	vals   js.Value // from the helper script: its objects (q.taken), or undefined
}

func (it *Items) reset(keys []string, n int) {
	it.keys, it.n, it.buf = keys, n, nil
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
	it.vals = js.Undefined()
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

// Value returns key k of event i if it is an object, e.g. an
// ArrayBuffer (or null, read without the helper script), else undefined.
// Only during OnBatch.
func (it *Items) Value(i, k int) js.Value {
	f := it.get(i, k)
	if f.kind != kindOther {
		return js.Undefined()
	}
	if !it.vals.IsUndefined() {
		return it.vals.Index(int(f.num))
	}
	return f.v
}

// read fills the fields of the one event ev with Get. (String, then a
// copy, costs fewer boundary calls and finalizers than TextEncoder for
// one string.)
func (it *Items) read(ev js.Value) {
	for k, key := range it.keys {
		f := &it.fields[k]
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
// 4-byte little-endian length and that many bytes of UTF-8, or a tag
// above any length: 0xFFFFFFFE for an object (the next one of q.taken),
// 0xFFFFFFFD and 8 bytes for a number (a little-endian float64),
// 0xFFFFFFFC for true, 0xFFFFFFFB for false, 0xFFFFFFFF for anything
// else. It returns the number of whole events read (it.n unless the bytes
// are not the helper's) and of objects.
func (it *Items) parseText() (int, int) {
	b, p, objs := it.buf, 0, 0
	for i := 0; i < it.n; i++ {
		for k := range it.keys {
			if len(b)-p < 4 {
				return i, objs
			}
			n := le32(b[p:])
			p += 4
			f := it.at(i, k)
			switch n {
			case 0xFFFFFFFF:
				continue
			case 0xFFFFFFFE:
				f.kind, f.num = kindOther, float64(objs)
				objs++
				continue
			case 0xFFFFFFFD:
				if len(b)-p < 8 {
					return i, objs
				}
				f.kind, f.num = kindNumber, math.Float64frombits(uint64(le32(b[p:]))|uint64(le32(b[p+4:]))<<32)
				p += 8
				continue
			case 0xFFFFFFFC, 0xFFFFFFFB:
				f.kind = kindBool
				if n == 0xFFFFFFFC {
					f.num = 1
				}
				continue
			}
			if uint64(n) > uint64(len(b)-p) {
				return i, objs
			}
			end := p + int(n)
			f.kind, f.b = kindString, b[p:end:end]
			p = end
		}
	}
	return it.n, objs
}

// le32 reads a little-endian uint32.
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
