//go:build js && wasm

// Package faulttest runs comet's clients through a faulty network: the
// test-only proxy of server/internal/faultproxy, which server/wasmrun puts
// in front of the page's origin (testenv.FaultyServerURL). At random it
// drops, delays, truncates and resets connections, seeded by
// COMET_FAULT_SEED (default 1).
//
// The tests show that Subscribe, on every transport alone and with
// fallback, delivers every message exactly once and in order across those
// cuts; that a plain WebSocket, which promises nothing across a cut,
// fails with a typed error and never with wrong data or a JS exception;
// and that no js.Func, JS reference or server subscription is left.
//
// TestPagePolicy checks, in Chromium, the page policy the server sends:
// the wasm runs, eval and inline script do not.
//
// It has tests only:
//
//	./build.sh wasmtest chromium -v ./wasm/internal/faulttest
package faulttest
