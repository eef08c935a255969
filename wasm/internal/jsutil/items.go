//go:build js && wasm

package jsutil

import (
	"syscall/js"
	"unicode/utf8"
	"unsafe"
)

// maxKeys bounds BatchOptions.Keys.
const maxKeys = 8

// textEncoder turns the batch's JSON into UTF-8 in one call.
var textEncoder = js.Global().Get("TextEncoder").New()

// Value kinds of a field.
const (
	kindMissing = iota // undefined: JSON.stringify leaves the key out
	kindString
	kindNumber
	kindBool
	kindOther // null, an object (an ArrayBuffer or Blob shows as {}), …
	kindFloat // a number that is not a small integer: read with Get
)

type field struct {
	kind byte
	b    []byte   // kindString: the decoded UTF-8
	num  float64  // kindNumber; kindBool: 1 or 0
	v    js.Value // kindOther, when read with Get: the value itself
}

// Items is one drained batch of events: Len events with the fields
// named by BatchOptions.Keys, in that order.
type Items struct {
	keys   []string
	arr    js.Value // the queued events, or undefined for one event
	ev     js.Value // that one event
	n      int
	buf    []byte
	fields []field // n × len(keys)
	text   bool    // from the helper script: strings only, no events
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
	it.arr, it.ev = js.Undefined(), js.Undefined()
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
	if f.kind == kindFloat {
		return it.Event(i).Get(it.keys[k]).Float(), true // only during OnBatch
	}
	return f.num, f.kind == kindNumber
}

// Bool returns key k of event i if it is a boolean.
func (it *Items) Bool(i, k int) (v, ok bool) {
	f := it.get(i, k)
	return f.num != 0, f.kind == kindBool
}

// Value returns key k of event i as a JavaScript value, e.g. an
// ArrayBuffer that JSON cannot carry. Only during OnBatch.
func (it *Items) Value(i, k int) js.Value {
	if f := it.get(i, k); f.kind == kindOther && !f.v.IsUndefined() {
		return f.v
	}
	if k < 0 || k >= len(it.keys) || it.text {
		return js.Undefined()
	}
	return it.Event(i).Get(it.keys[k])
}

// Event returns event i itself, e.g. to read an ArrayBuffer that JSON
// cannot carry. Only during OnBatch.
func (it *Items) Event(i int) js.Value {
	if it.text {
		return js.Undefined()
	}
	if it.arr.IsUndefined() {
		return it.ev
	}
	return it.arr.Index(i)
}

// load copies the batch's JSON text into Go as UTF-8.
func (it *Items) load(s js.Value) {
	u8 := textEncoder.Call("encode", s)
	it.buf = make([]byte, u8.Length())
	js.CopyBytesToGo(it.buf, u8)
}

// slow reads every field with Get: the path when JSON.stringify threw.
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

// parse decodes what JSON.stringify(events, keys) wrote: an array of n
// objects whose keys are among it.keys. Strings are unescaped in place.
// It reports false for anything else.
func (it *Items) parse() bool {
	p := parser{b: it.buf}
	if !p.byte('[') {
		return false
	}
	for i := 0; i < it.n; i++ {
		if i > 0 && !p.byte(',') {
			return false
		}
		if !p.byte('{') {
			return false
		}
		for first := true; !p.byte('}'); first = false {
			if !first && !p.byte(',') {
				return false
			}
			key, ok := p.str()
			if !ok || !p.byte(':') {
				return false
			}
			k := it.key(key)
			var f field
			if !p.value(&f) {
				return false
			}
			if k >= 0 {
				*it.at(i, k) = f
			}
		}
	}
	return p.byte(']') && p.i == len(p.b)
}

func (it *Items) key(b []byte) int {
	for k, key := range it.keys {
		if string(b) == key {
			return k
		}
	}
	return -1
}

type parser struct {
	b []byte
	i int
}

// byte consumes c if it is next.
func (p *parser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) value(f *field) bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, ok := p.str()
		f.kind, f.b = kindString, s
		return ok
	case c == 't':
		f.kind, f.num = kindBool, 1
		return p.lit("true")
	case c == 'f':
		f.kind = kindBool
		return p.lit("false")
	case c == 'n':
		f.kind = kindOther
		return p.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		// An integer of up to 15 digits is exact here; any other number
		// is read from the event itself (strconv.ParseFloat is ~40 KB).
		j, neg := p.i, c == '-'
		if neg {
			j++
		}
		var v int64
		digits := 0
		for ; j < len(p.b) && '0' <= p.b[j] && p.b[j] <= '9'; j++ {
			v = v*10 + int64(p.b[j]-'0')
			digits++
		}
		f.kind, f.num = kindNumber, float64(v)
		if neg {
			f.num = -f.num
		}
		if j < len(p.b) && isNumByte(p.b[j]) || digits == 0 || digits > 15 {
			f.kind = kindFloat
			for j < len(p.b) && isNumByte(p.b[j]) {
				j++
			}
		}
		p.i = j
		return true
	case c == '{' || c == '[':
		f.kind = kindOther
		return p.skip()
	}
	return false
}

func isNumByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// skip passes over an object or array.
func (p *parser) skip() bool {
	depth := 0
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			if _, ok := p.str(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.i++
				return true
			}
		}
		p.i++
	}
	return false
}

// str decodes the string at p.i in place and returns it with its
// capacity cut to its length.
func (p *parser) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	b := p.b
	i := start
	for i < len(b) && b[i] != '"' && b[i] != '\\' {
		i++
	}
	if i < len(b) && b[i] == '"' {
		p.i = i + 1
		return b[start:i:i], true
	}
	w := i // write position: unescaped text is never longer
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return b[start:w:w], true
		case c != '\\':
			b[w] = c
			w++
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, false
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			b[w] = e
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				return nil, false
			}
			i += 4
			if 0xD800 <= r && r < 0xDC00 && i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
				if lo, ok := hex4(b, i+2); ok && 0xDC00 <= lo && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			if 0xD800 <= r && r < 0xE000 {
				r = utf8.RuneError // a lone surrogate, as TextEncoder writes it
			}
			w += utf8.EncodeRune(b[w:], r)
			continue
		default:
			return nil, false
		}
		w++
	}
	return nil, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// parseText decodes the helper script's bytes: per event and key a
// 4-byte little-endian length and that many bytes of UTF-8, or the length
// 0xFFFFFFFF for a value that is not a string. It returns the number of
// whole events read: it.n unless the bytes are not the helper's.
func (it *Items) parseText() int {
	b, p := it.buf, 0
	for i := 0; i < it.n; i++ {
		for k := range it.keys {
			if len(b)-p < 4 {
				return i
			}
			n := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16 | uint32(b[p+3])<<24
			p += 4
			if n == 0xFFFFFFFF {
				continue
			}
			if uint64(n) > uint64(len(b)-p) {
				return i
			}
			end := p + int(n)
			*it.at(i, k) = field{kind: kindString, b: b[p:end:end]}
			p = end
		}
	}
	return it.n
}
