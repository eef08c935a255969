//go:build js && wasm

// Package xhr is XMLHttpRequest in idiomatic Go, without net/http (which
// would add about 8 MB to every wasm binary).
//
// Use Send (or Get) to send a Request and wait for the whole Response,
// and Stream to read a response body as it arrives. A ctx cancels at any
// stage, the body's arrival included. Errors are *Error values wrapping
// ErrTimeout, ErrAborted, ErrNetwork and the other sentinels; they also
// match context.Canceled or context.DeadlineExceeded when the ctx ended
// the request. A status that is not 2xx is not an error: see Response.OK.
// MDN: https://developer.mozilla.org/docs/Web/API/XMLHttpRequest
//
// Request bodies may be a string, []byte, url.Values, FormData
// (NewFormData, FormDataFrom a <form>), a Blob or File (NewBlob, BlobOf),
// an io.Reader, or an Encoder such as package xhrjson's Body (JSON).
// Request.OnReadyState, OnProgress and OnUploadProgress observe the
// request; they run on the caller's goroutine, never on the JavaScript
// event loop.
//
// For JSON bodies and responses see package xhrjson; for an http.Client
// over XHR, with upload progress, see package xhrhttp, which imports
// net/http.
//
// # Size
//
// A program that only GETs a text with this package is 2.43 MB of wasm
// (-trimpath -ldflags='-s -w'; 0.54 MB brotli), against 1.92 MB for a
// syscall/js hello. Of the difference, using context at all is about
// 0.31 MB. This package imports neither net/url (Query is
// map[string][]string, which url.Values fits) nor encoding/json, whose
// init alone, with fmt, os and reflect, costs about 140 KB: the JSON API
// is in package xhrjson, linked only into programs that import it.
//
// # Crossing into Go
//
// With the page's helper script comet_batch.js (in public/, beside
// wasm_exec.js), a request nobody observes is told its end as a number
// (xhrEnd), and its status, statusText, responseURL, headers and a text
// body come as one string (xhrResult): one call instead of about 15, and
// no js.Value per field. Without the script each is read on its own,
// with the same result.
//
// # Forbidden headers
//
// Browsers silently drop request headers they control (Host, Cookie,
// Origin, Referer, Content-Length, Sec-*, Proxy-*, …: the Fetch spec's
// forbidden request-headers). Send refuses them with ErrForbiddenHeader
// instead; see Forbidden.
//
// # Status 0
//
// A CORS refusal, a refused or dropped connection, and a request blocked
// by the page's policy all end with status 0 and no detail: the browser
// hides the reason from the page. Send returns ErrNetwork for all of them.
//
// # Progress
//
// Each target (download, upload) delivers loadstart first, loadend last,
// and exactly one of load, error, abort or timeout just before loadend.
// If an observer is slow, queued "progress" events are coalesced: only
// the latest is kept. No other event is ever dropped. Setting
// OnUploadProgress makes a cross-origin request preflighted.
//
// # Streaming
//
// Stream exposes responseText as an io.ReadCloser that returns only new
// bytes. The browser keeps the whole body in responseText until the
// request ends, so memory grows with the stream: end long streams and
// reconnect. The body must be UTF-8 text. (Node's xhr2 polyfill fills
// responseText only when the response ends, so there Stream delivers the
// body at once.)
//
// Chromium holds back the start of a response it may sniff: a text/plain
// response without X-Content-Type-Options: nosniff reaches the page only
// once 1,024 bytes have arrived or the response has ended. Measured with
// Chromium 156 against go-httpbin (runs on a loaded 2-core machine): 10
// bytes dripped over 2 s came in one Read of 10 bytes at the end (after
// 2.0–2.3 s), with Request.MimeType (overrideMimeType) set or not; of
// 2,048 bytes dripped over 2 s, the first Read held 1,026–1,078 bytes
// (after 1.1–1.4 s) and 21–24 more Reads followed as bytes arrived; 5
// text/event-stream events over 2 s came in 5 Reads, the first 54 bytes
// after 20 ms. The interop test TestStreamSniffHoldBack measures it
// again. The page cannot turn this off; the server can: send
// X-Content-Type-Options: nosniff (comet's server does), or a type that
// is not sniffed such as text/event-stream, or begin the stream with
// 1,024 bytes of padding.
//
// # Basic authentication
//
// Measured with Chromium 156 against go-httpbin on another origin:
//
//   - Request.User and Password alone are not sent: even the right
//     password gets 401 (the Fetch standard uses URL credentials only to
//     answer a challenge, and never for a CORS request).
//   - A hand-set Authorization: Basic header is sent. Without
//     WithCredentials a wrong one gets its 401 at once; with
//     WithCredentials the browser keeps the 401 (with WWW-Authenticate)
//     for its login prompt, so the request does not end on its own
//     (headless: it hangs until ctx ends).
//   - The header together with User and Password: the right password
//     gets 200 and a wrong one its 401 at once, with WithCredentials or
//     not. Do that; package xhrhttp does it for req.SetBasicAuth.
//
// The interop test TestXHRBasicAuth checks each case.
//
// # Synchronous requests
//
// Request.Sync sends a synchronous XHR. It is deprecated on the main
// thread: it freezes the page and the whole Go program (every goroutine)
// until the response arrives, ctx cannot cancel it, no progress events
// fire, and browsers refuse responseType and timeout for it (Send returns
// ErrSync). Prefer it only in a worker, if at all.
package xhr
