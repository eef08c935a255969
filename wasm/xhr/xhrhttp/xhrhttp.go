//go:build js && wasm

package xhrhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/cometwasm/comet/wasm/xhr"
)

// Transport is an http.RoundTripper that sends each request with
// XMLHttpRequest (package xhr). The zero value is ready to use.
type Transport struct {
	// WithCredentials sends cookies on cross-origin requests. Defaults
	// to false.
	WithCredentials bool
	// OnUploadProgress, if set, receives the upload progress of every
	// request; a ctx value from WithUploadProgress wins over it.
	OnUploadProgress func(*http.Request, xhr.Progress)
}

type uploadKey struct{}
type downloadKey struct{}

// WithUploadProgress returns a ctx that makes Transport report the upload
// progress of a request made with it (http.NewRequestWithContext).
func WithUploadProgress(ctx context.Context, fn func(xhr.Progress)) context.Context {
	return context.WithValue(ctx, uploadKey{}, fn)
}

// WithDownloadProgress is WithUploadProgress for the response.
func WithDownloadProgress(ctx context.Context, fn func(xhr.Progress)) context.Context {
	return context.WithValue(ctx, downloadKey{}, fn)
}

// RoundTrip sends req and returns the whole response. The request's ctx
// aborts it. Forbidden headers (see xhr.Forbidden) make it fail.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	xr := &xhr.Request{
		Method:          req.Method,
		URL:             req.URL.String(),
		Header:          xhr.Header{},
		WithCredentials: t.WithCredentials,
	}
	for k, v := range req.Header {
		xr.Header[k] = v
	}
	if req.Body != nil && req.Body != http.NoBody {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		xr.Body = data
	}
	if fn, ok := ctx.Value(uploadKey{}).(func(xhr.Progress)); ok {
		xr.OnUploadProgress = fn
	} else if t.OnUploadProgress != nil {
		xr.OnUploadProgress = func(p xhr.Progress) { t.OnUploadProgress(req, p) }
	}
	if fn, ok := ctx.Value(downloadKey{}).(func(xhr.Progress)); ok {
		xr.OnProgress = fn
	}
	resp, err := xhr.Send(ctx, xr)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range resp.Header {
		h[http.CanonicalHeaderKey(k)] = v
	}
	body := resp.Bytes()
	cl := int64(len(body))
	if v, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && req.Method == http.MethodHead {
		cl = v
	}
	return &http.Response{
		Status:        strconv.Itoa(resp.Status) + " " + resp.StatusText,
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: cl,
		Request:       req,
	}, nil
}
