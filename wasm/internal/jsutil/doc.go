//go:build js && wasm

// Package jsutil holds the syscall/js helpers every comet package shares.
//
// Use Listen to add an event listener and get back the one func that removes
// it and releases its js.Func. Use FuncOf instead of js.FuncOf so LiveFuncs
// can count what is not yet released. Use Call or Try where JavaScript may
// throw: the exception comes back as an *Error. Use BytesToGo and BytesToJS
// to copy between []byte and ArrayBuffer / typed arrays, and Await to wait
// for a Promise with a context without blocking the event loop.
//
// # Callbacks
//
// A callback made with FuncOf runs on the JavaScript event loop. It must only
// hand off: a non-blocking channel send, or an append under a mutex followed
// by a non-blocking signal. Blocking in it deadlocks the program.
//
// # Counting references
//
// LiveFuncs counts funcs made by FuncOf and not yet released. LiveRefs counts
// the JavaScript values the Go side holds references to; it needs the page's
// Go instance at globalThis.__cometGo (comet's loader and test harness set it).
// Leak tests compare both against a baseline.
package jsutil
