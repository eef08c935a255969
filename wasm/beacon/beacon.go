//go:build js && wasm

package beacon

import (
	"context"
	"errors"
	"strings"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/xhr"
)

// Sentinel errors.
var (
	// ErrFailed: the image did not load (network error, or not an image).
	ErrFailed = errors.New("beacon: image ping failed")
	// ErrRefused: navigator.sendBeacon did not queue the data (too large,
	// or the browser's beacon quota is used up).
	ErrRefused = errors.New("beacon: sendBeacon refused the data")
	// ErrAborted: ctx ended the ping first.
	ErrAborted = errors.New("beacon: aborted")
	// ErrUnsupported: neither Image nor navigator.sendBeacon exists
	// (e.g. node).
	ErrUnsupported = errors.New("beacon: needs a browser (Image or navigator.sendBeacon)")
)

// Ping requests url as an image (new Image().src = url), the classic
// cross-origin "image ping": one-way, no CORS, only GET, and the page
// learns only whether an image came back. It waits for onload or onerror.
func Ping(ctx context.Context, url string) error {
	ctor, ok := jsutil.Global("Image")
	if !ok {
		return ErrUnsupported
	}
	img, err := jsutil.New(ctor)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	var ls jsutil.Listeners
	defer ls.RemoveAll()
	send := func(err error) {
		select {
		case done <- err:
		default:
		}
	}
	ls.Add(img, "load", func(js.Value) { send(nil) })
	ls.Add(img, "error", func(js.Value) { send(ErrFailed) })
	img.Set("src", url)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		img.Set("src", "") // cancels the load
		return errors.Join(ErrAborted, ctx.Err())
	}
}

// Send queues data for url with navigator.sendBeacon: a POST that
// survives the page unloading, whose answer nobody reads. data is a
// string (sent as text/plain), []byte or xhr.Blob. Without sendBeacon it
// falls back to an image ping carrying data in the query as d=…, waiting
// at most 10 seconds in the background.
func Send(url string, data any) error {
	var body js.Value
	switch v := data.(type) {
	case nil:
		body = js.Null()
	case string:
		body = js.ValueOf(v)
	case []byte:
		body = jsutil.BytesToJS(v)
	case xhr.Blob:
		body = v.JSValue()
	default:
		return errors.New("beacon: data must be a string, []byte or xhr.Blob")
	}
	if nav, ok := jsutil.Global("navigator"); ok && nav.Get("sendBeacon").Type() == js.TypeFunction {
		queued, err := jsutil.Call(nav, "sendBeacon", url, body)
		if err != nil {
			return err
		}
		if !queued.Truthy() {
			return ErrRefused
		}
		return nil
	}
	if _, ok := jsutil.Global("Image"); !ok {
		return ErrUnsupported
	}
	s, _ := data.(string)
	if b, ok := data.([]byte); ok {
		s = string(b)
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		Ping(ctx, url+sep+"d="+xhr.EncodeURIComponent(s))
	}()
	return nil
}
