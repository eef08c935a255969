//go:build js && wasm

// Package xhrhttp is an http.RoundTripper over XMLHttpRequest, for code
// written against net/http that wants what fetch lacks: upload progress.
//
// Use Transport in an http.Client, and WithUploadProgress (or
// WithDownloadProgress) on a request's ctx to watch it. Errors are the
// *xhr.Error values of package xhr.
//
// # Size
//
// This package imports net/http, which adds about 8 MB to a wasm binary.
// Package xhr alone does not.
//
// # Bodies
//
// The request body is read fully before sending (XHR cannot stream a
// request), and the response arrives whole before RoundTrip returns.
//
// The browser decodes a Content-Encoding (gzip, deflate, br, zstd) itself
// and the page cannot turn that off. As net/http's transport does when it
// decompresses, the response then has no Content-Encoding or
// Content-Length header, ContentLength is the decoded length, and
// Uncompressed is true. Cross-origin, the page sees Content-Encoding only
// if the server exposes it; a Content-Length that differs from the body
// tells the same. (Node's xhr2 polyfill does not decode: there the body
// and headers stay as the server sent them.)
//
// # Redirects
//
// XHR follows redirects itself (up to 20) and shows the page only the
// final response, so http.Client.CheckRedirect is never called and cannot
// stop or inspect a redirect; the client never sees a 3xx (unless the
// browser refuses to follow it, e.g. a cross-origin redirect CORS does
// not allow, which is an error). resp.Request is a copy of the request
// with the final URL (responseURL), as net/http reports it; its Method
// and Header are those of the first request.
//
// # Basic authentication
//
// Credentials from req.SetBasicAuth or from user info in the URL are sent
// in the Authorization header and also passed to XHR's open(user,
// password). Both are needed in Chromium (measured with Chromium 156
// against go-httpbin on another origin): open() alone does not send them
// cross-origin, so even the right password gets 401; the header alone,
// with Transport.WithCredentials, makes a 401 with WWW-Authenticate open
// the browser's login prompt, and the request hangs until its ctx ends.
// With both, the right password gets 200 and a wrong one its 401 at once.
package xhrhttp
