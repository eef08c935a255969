//go:build js && wasm

// Package jsonp loads JSON from another origin the pre-CORS way: a
// <script> whose URL names a global callback (seed: Ajax and Comet,
// cross-domain techniques).
//
// Use Get to receive the JSON text the server passed to the callback, or
// GetJSON to decode it. The callback name is generated; the script
// element and the global are removed afterwards.
// MDN: https://developer.mozilla.org/docs/Glossary/JSONP
//
// # Failure is silent
//
// A JSONP server that fails often gives the page no sign at all: Get ends
// with ErrTimeout after Options.Timeout, with ErrLoad if the script could
// not load, and with ErrNoCallback if it ran without calling back.
//
// # Trust
//
// The script runs with the page's full authority: use JSONP only with
// servers you trust, and prefer CORS (package xhr). The page's
// Content-Security-Policy must allow the script's origin. After a timeout
// the global stays defined as a no-op, so a late script cannot throw.
//
// It needs a browser document; in node Get returns ErrUnsupported.
package jsonp
