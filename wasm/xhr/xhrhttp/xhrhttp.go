//go:build js && wasm

package xhrhttp

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
// aborts it. Forbidden headers (see xhr.Forbidden) make it fail. Basic
// credentials (req.SetBasicAuth, or user info in the URL) are sent as the
// Authorization header and also given to XHR's open(). After redirects
// resp.Request is a copy of req with the final URL.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	u := *req.URL
	u.User = nil // sent as Authorization below, as net/http does
	xr := &xhr.Request{
		Method:          req.Method,
		URL:             u.String(),
		Header:          xhr.Header{},
		WithCredentials: t.WithCredentials,
	}
	for k, v := range req.Header {
		xr.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" && req.URL.User != nil {
		pass, _ := req.URL.User.Password()
		xr.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(req.URL.User.Username()+":"+pass)))
	}
	// Basic credentials also go to open(): with only the header, a 401
	// with WWW-Authenticate opens the browser's login prompt and the
	// request hangs; with both, the 401 comes back (see package doc).
	if user, pass, ok := basicAuth(xr.Header.Get("Authorization")); ok {
		xr.User, xr.Password = user, pass
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
	uncompressed := false
	if req.Method == http.MethodHead {
		if v, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
			cl = v
		}
	} else if decoded(h, cl) {
		// The browser decoded the body: like net/http's transport, do not
		// claim an encoding or a length that no longer holds.
		h.Del("Content-Encoding")
		h.Del("Content-Length")
		uncompressed = true
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
		Uncompressed:  uncompressed,
		Request:       finalRequest(req, &u, resp.URL),
	}, nil
}

// basicAuth parses a Basic Authorization value.
func basicAuth(v string) (user, pass string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {v}}}
	return r.BasicAuth()
}

// decoded reports whether the browser decoded a content coding: it
// always does (Fetch), and then Content-Encoding, if the page may see it,
// is still set, and Content-Length, if set, is the encoded length. A
// polyfill that does not decode (node's xhr2) leaves both true to the body.
func decoded(h http.Header, n int64) bool {
	if v := h.Get("Content-Length"); v != "" {
		if cl, err := strconv.ParseInt(v, 10, 64); err == nil && cl != n {
			return true
		}
		return false
	}
	ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	return ce != "" && ce != "identity"
}

// finalRequest is req, or after redirects a copy with the final URL
// (XHR's responseURL), as net/http's Client returns it.
func finalRequest(req *http.Request, sent *url.URL, final string) *http.Request {
	if final == "" || final == sent.String() {
		return req
	}
	u, err := url.Parse(final)
	if err != nil {
		return req
	}
	u.User = nil
	if u.String() == sent.String() {
		return req
	}
	r := req.Clone(req.Context())
	r.URL = u
	r.Host = u.Host
	return r
}
