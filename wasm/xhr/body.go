//go:build js && wasm

package xhr

import (
	"context"
	"io"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// Encoder is a request body that encodes itself, such as package
// xhrjson's Body: Send sends the bytes EncodeBody returns, with
// Content-Type contentType (if not "") unless the request sets one. An
// error from EncodeBody is returned by Send, wrapped.
type Encoder interface {
	EncodeBody() (data []byte, contentType string, err error)
}

// encoder is a body type of this package that converts itself for send.
// body reaches Blob and FormData only through it, so their code is linked
// only into programs that use them.
type encoder interface {
	encodeBody(ctx context.Context, h Header, native bool) (js.Value, error)
}

// setType sets Content-Type to t unless the request set one.
//
//go:noinline
func setType(h Header, t string) {
	const name = "Content-Type" // canonical: no need of Get and Set
	if v := h[name]; len(v) == 0 || v[0] == "" {
		h[name] = []string{t}
	}
}

// Blob is a handle on a JavaScript Blob or File. The bytes stay in the
// browser: sending a Blob copies nothing through Go.
type Blob struct{ v js.Value }

// NewBlob copies b into a new Blob of MIME type typ.
func NewBlob(b []byte, typ string) (Blob, error) {
	ctor, ok := jsutil.Global("Blob")
	if !ok {
		return Blob{}, ErrUnsupported
	}
	opts := js.Global().Get("Object").New()
	opts.Set("type", typ)
	v, err := jsutil.New(ctor, []any{jsutil.BytesToJS(b)}, opts)
	return Blob{v}, err
}

// BlobOf wraps a JavaScript Blob or File, e.g. from an <input type=file>.
func BlobOf(v js.Value) (Blob, error) {
	ctor, ok := jsutil.Global("Blob")
	if !ok {
		return Blob{}, ErrUnsupported
	}
	if v.Type() != js.TypeObject || !v.InstanceOf(ctor) {
		return Blob{}, ErrBodyType
	}
	return Blob{v}, nil
}

// IsZero reports whether b holds no Blob.
func (b Blob) IsZero() bool { return b.v.Type() != js.TypeObject }

// Size returns the size in bytes.
func (b Blob) Size() int64 {
	if b.IsZero() {
		return 0
	}
	return int64(b.v.Get("size").Float())
}

// Type returns the MIME type, or "".
func (b Blob) Type() string {
	if b.IsZero() {
		return ""
	}
	return b.v.Get("type").String()
}

// Name returns a File's name, or "" for a plain Blob.
func (b Blob) Name() string {
	if b.IsZero() {
		return ""
	}
	if n := b.v.Get("name"); n.Type() == js.TypeString {
		return n.String()
	}
	return ""
}

// Slice returns the bytes [start, end) as a new Blob, without copying.
func (b Blob) Slice(start, end int64) Blob {
	if b.IsZero() {
		return b
	}
	return Blob{b.v.Call("slice", float64(start), float64(end))}
}

// Bytes reads the whole Blob into Go.
func (b Blob) Bytes(ctx context.Context) ([]byte, error) {
	if b.IsZero() {
		return nil, nil
	}
	p, err := jsutil.Call(b.v, "arrayBuffer")
	if err != nil {
		return nil, err
	}
	ab, err := jsutil.Await(ctx, p)
	if err != nil {
		return nil, err
	}
	return jsutil.BytesToGo(ab)
}

// JSValue returns the JavaScript Blob.
func (b Blob) JSValue() js.Value { return b.v }

// FormData is a handle on a JavaScript FormData: the browser encodes it as
// multipart/form-data and sets the boundary.
type FormData struct{ v js.Value }

// NewFormData returns an empty FormData.
func NewFormData() (FormData, error) {
	ctor, ok := jsutil.Global("FormData")
	if !ok {
		return FormData{}, ErrUnsupported
	}
	v, err := jsutil.New(ctor)
	return FormData{v}, err
}

// FormDataFrom builds a FormData from a <form> element's current fields,
// files included.
func FormDataFrom(form js.Value) (FormData, error) {
	ctor, ok := jsutil.Global("FormData")
	if !ok {
		return FormData{}, ErrUnsupported
	}
	v, err := jsutil.New(ctor, form)
	return FormData{v}, err
}

// Append adds a text field.
func (f FormData) Append(name, value string) { f.call("append", name, value) }

// Set replaces the fields called name with one text field.
func (f FormData) Set(name, value string) { f.call("set", name, value) }

// AppendBlob adds a file field holding b, sent under filename.
func (f FormData) AppendBlob(name string, b Blob, filename string) {
	f.call("append", name, b.v, filename)
}

// call ignores a zero FormData and JavaScript exceptions.
func (f FormData) call(method string, args ...any) {
	if f.v.Type() == js.TypeObject {
		jsutil.Call(f.v, method, args...)
	}
}

// JSValue returns the JavaScript FormData.
func (f FormData) JSValue() js.Value { return f.v }

func (f FormData) encodeBody(context.Context, Header, bool) (js.Value, error) {
	if f.v.Type() != js.TypeObject {
		return js.Null(), ErrBodyType
	}
	return f.v, nil
}

func (b Blob) encodeBody(ctx context.Context, h Header, native bool) (js.Value, error) {
	if b.IsZero() {
		return js.Null(), nil
	}
	if !native { // the node polyfill sends only strings and bytes
		data, err := b.Bytes(ctx)
		if err != nil {
			return js.Null(), err
		}
		if t := b.Type(); t != "" {
			setType(h, t)
		}
		return jsutil.BytesToJS(data), nil
	}
	return b.v, nil
}

// body converts Request.Body into what XMLHttpRequest.send takes, and sets
// the Content-Type the browser would not choose itself.
func body(ctx context.Context, b any, h Header, native bool) (js.Value, error) {
	if e, ok := b.(encoder); ok {
		switch b.(type) {
		case FormData, Blob: // not a type that embeds one
			return e.encodeBody(ctx, h, native)
		}
	}
	switch v := b.(type) {
	case nil:
		return js.Null(), nil
	case Encoder:
		data, typ, err := v.EncodeBody()
		if err != nil {
			return js.Null(), err
		}
		if typ != "" {
			setType(h, typ)
		}
		return jsutil.BytesToJS(data), nil
	case string:
		return js.ValueOf(v), nil
	case []byte:
		return jsutil.BytesToJS(v), nil
	case map[string][]string:
		setType(h, "application/x-www-form-urlencoded;charset=UTF-8")
		return js.ValueOf(encodeForm(v)), nil
	case interface{ Encode() string }: // url.Values, without importing net/url
		setType(h, "application/x-www-form-urlencoded;charset=UTF-8")
		return js.ValueOf(v.Encode()), nil
	case io.Reader:
		data, err := io.ReadAll(v)
		if err != nil {
			return js.Null(), err
		}
		return jsutil.BytesToJS(data), nil
	}
	return js.Null(), ErrBodyType
}
