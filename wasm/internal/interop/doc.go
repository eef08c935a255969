//go:build js && wasm

// Package interop holds tests only: comet's browser packages (xhr,
// xhrhttp, ws, sse) against servers comet did not write, built on
// github.com/mccutchen/go-httpbin/v2, github.com/gorilla/websocket and
// github.com/tmaxmax/go-sse. server/wasmrun starts them on loopback for
// every GOOS=js test binary and passes their URLs as COMET_INTEROP_*
// (see testenv.Interop); without the harness the tests skip.
//
// Run them with ./build.sh wasmtest chromium ./wasm/internal/interop
// (Chromium is the authority; node's polyfills skip what they lack).
package interop
