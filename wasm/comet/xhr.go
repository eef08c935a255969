//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"strconv"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// ErrNetwork is a request that failed without a status (network error,
// CORS refusal, connection cut).
var ErrNetwork = errors.New("comet: network error")

// StatusError is an HTTP answer other than the one a transport expects.
type StatusError struct {
	URL    string
	Status int
	Body   string // the first 200 bytes
}

func (e *StatusError) Error() string {
	return "comet: " + e.URL + ": status " + strconv.Itoa(e.Status) + ": " + e.Body
}

// call is one XMLHttpRequest read by a goroutine: callbacks only signal.
type call struct {
	x    js.Value
	ls   jsutil.Listeners
	wake jsutil.Signal
	read int // UTF-16 units of responseText already returned

	substring js.Value // String.prototype.substring
}

// utf16Len returns the length of s in UTF-16 code units (JS length).
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// request is what start sends.
type request struct {
	method, url string
	header      []string // name, value pairs
	body        string
	credentials bool
}

// start sends r. The caller must call end.
func start(r request) (*call, error) {
	ctor, ok := jsutil.Global("XMLHttpRequest")
	if !ok {
		return nil, errors.New("comet: XMLHttpRequest is not available")
	}
	x, err := jsutil.New(ctor)
	if err != nil {
		return nil, err
	}
	c := &call{x: x, wake: jsutil.NewSignal()}
	notify := func(js.Value) { c.wake.Notify() }
	c.ls.Add(x, "readystatechange", notify)
	c.ls.Add(x, "progress", notify)
	c.ls.Add(x, "loadend", notify)
	err = jsutil.Try(func() {
		x.Call("open", r.method, r.url)
		x.Set("withCredentials", r.credentials)
		for i := 0; i+1 < len(r.header); i += 2 {
			x.Call("setRequestHeader", r.header[i], r.header[i+1])
		}
		if r.body != "" {
			x.Call("send", r.body)
		} else {
			x.Call("send")
		}
	})
	if err != nil {
		c.end()
		return nil, err
	}
	return c, nil
}

// next waits for news and returns the text received since the last call
// and whether the response is complete. A network error returns
// ErrNetwork; ctx's end aborts the request and returns ctx.Err().
func (c *call) next(ctx context.Context) (chunk string, done bool, err error) {
	for {
		state := c.x.Get("readyState").Int()
		if state >= 3 {
			if c.x.Get("status").Int() == 0 {
				if state == 4 {
					return "", true, ErrNetwork
				}
			} else {
				// responseText is a primitive string: call substring on it
				// through String.prototype (syscall/js calls only objects).
				if !c.substring.Truthy() {
					c.substring = js.Global().Get("String").Get("prototype").Get("substring")
				}
				chunk = c.substring.Call("call", c.x.Get("responseText"), c.read).String()
				c.read += utf16Len(chunk)
				if state == 4 || chunk != "" {
					return chunk, state == 4, nil
				}
			}
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return "", true, ctx.Err()
		}
	}
}

// status returns the HTTP status (0 before headers or on error).
func (c *call) status() int { return c.x.Get("status").Int() }

// headerValue returns a response header.
func (c *call) headerValue(name string) string {
	v := c.x.Call("getResponseHeader", name)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// waitHeaders waits until the status is known.
func (c *call) waitHeaders(ctx context.Context) error {
	for c.x.Get("readyState").Int() < 2 {
		select {
		case <-c.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.x.Get("readyState").Int() == 4 && c.status() == 0 {
		return ErrNetwork
	}
	return nil
}

// all waits for the whole response.
func (c *call) all(ctx context.Context) (string, error) {
	var text string
	for {
		chunk, done, err := c.next(ctx)
		text += chunk
		if err != nil || done {
			return text, err
		}
	}
}

// end aborts the request if it is still running and releases it. It is
// idempotent.
func (c *call) end() {
	if c.x.Get("readyState").Int() != 4 {
		jsutil.Try(func() { c.x.Call("abort") })
	}
	c.ls.RemoveAll()
}

// statusError builds a *StatusError from a finished call.
func statusError(url string, status int, body string) *StatusError {
	if len(body) > 200 {
		body = body[:200]
	}
	return &StatusError{URL: url, Status: status, Body: body}
}
