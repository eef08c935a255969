//go:build js && wasm

package jsonp

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// Sentinel errors; Get wraps them with the URL.
var (
	// ErrTimeout: no callback within Options.Timeout. A JSONP server that
	// fails gives no other sign.
	ErrTimeout = errors.New("jsonp: timeout: the script never called back")
	// ErrLoad: the script failed to load (network error, 4xx/5xx, or
	// refused by the page's Content-Security-Policy).
	ErrLoad = errors.New("jsonp: script failed to load")
	// ErrNoCallback: the script loaded and ran but did not call back.
	ErrNoCallback = errors.New("jsonp: script ran without calling back")
	// ErrAborted: ctx was cancelled.
	ErrAborted = errors.New("jsonp: aborted")
	// ErrUnsupported: no document (e.g. node).
	ErrUnsupported = errors.New("jsonp: needs a browser document")
)

// Options tunes Get. The zero value is ready to use.
type Options struct {
	// Param is the query parameter that names the callback. Defaults to
	// "callback".
	Param string
	// Timeout bounds the wait for the callback. Defaults to 10 seconds.
	Timeout time.Duration
}

type result struct {
	data []byte
	err  error
}

// Get loads url as a <script> with a generated callback name added to its
// query, and returns the JSON text of the callback's first argument. The
// script element and the global callback are removed afterwards.
func Get(ctx context.Context, url string, opts *Options) ([]byte, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Param == "" {
		o.Param = "callback"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	wrap := func(err error, cause error) error {
		if cause != nil {
			return &Error{URL: url, Err: err, Cause: cause}
		}
		return &Error{URL: url, Err: err}
	}
	doc, ok := jsutil.Global("document")
	if !ok {
		return nil, wrap(ErrUnsupported, nil)
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(ErrAborted, err)
	}
	name := "__cometJSONP_" + strconv.FormatUint(rand.Uint64(), 36)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	src := url + sep + o.Param + "=" + name

	done := make(chan result, 1)
	send := func(r result) {
		select {
		case done <- r:
		default: // the first outcome wins
		}
	}
	var called atomic.Bool
	cb := jsutil.FuncOf(func(_ js.Value, args []js.Value) any {
		called.Store(true)
		arg := js.Undefined()
		if len(args) > 0 {
			arg = args[0]
		}
		var s js.Value
		if err := jsutil.Try(func() { s = js.Global().Get("JSON").Call("stringify", arg) }); err != nil || s.Type() != js.TypeString {
			send(result{data: []byte("null")})
			return nil
		}
		send(result{data: []byte(s.String())})
		return nil
	})
	global := js.Global()
	global.Set(name, cb.Value)

	script := doc.Call("createElement", "script")
	var ls jsutil.Listeners
	ls.Add(script, "load", func(js.Value) { send(result{err: ErrNoCallback}) })
	ls.Add(script, "error", func(js.Value) { send(result{err: ErrLoad}) })
	script.Set("async", true)
	script.Set("src", src)
	parent := doc.Get("head")
	if parent.IsNull() || parent.IsUndefined() {
		parent = doc.Get("documentElement")
	}
	parent.Call("appendChild", script)

	timer := time.NewTimer(o.Timeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		r.err = ErrTimeout
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	ls.RemoveAll()
	jsutil.Try(func() { script.Call("remove") })
	if r.err == nil || called.Load() {
		js.Global().Get("Reflect").Call("deleteProperty", global, name)
	} else {
		// The script may still arrive and call back: leave a no-op that
		// holds nothing of Go, so it cannot throw a ReferenceError.
		global.Set(name, global.Get("Function").Get("prototype"))
	}
	cb.Release()
	switch {
	case r.err == nil:
		return r.data, nil
	case errors.Is(r.err, context.DeadlineExceeded):
		return nil, wrap(ErrTimeout, r.err)
	case errors.Is(r.err, context.Canceled):
		return nil, wrap(ErrAborted, r.err)
	}
	return nil, wrap(r.err, nil)
}

// GetJSON calls Get and decodes the result into v.
func GetJSON(ctx context.Context, url string, opts *Options, v any) error {
	data, err := Get(ctx, url, opts)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// Error is the error of one JSONP request.
type Error struct {
	URL   string
	Err   error // a sentinel above
	Cause error // a context error, or nil
}

func (e *Error) Error() string {
	s := e.Err.Error() + ": " + e.URL
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause, for errors.Is.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}
