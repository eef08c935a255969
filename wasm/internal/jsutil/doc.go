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
// Use NewBatch to receive a target's events in batches: see below.
//
// # Batching events into Go
//
// A listener per event costs a call into Go (the wasm_exec resume, the
// scheduler) plus three or four boundary calls and two finalizer-tracked
// js.Values per event (runtime.addspecial alone was 23% of the busy time
// of an SSE burst). Batch queues events on the JavaScript side with a
// native listener, Array.prototype.push bound to an array, and drains
// them with one JSON.stringify(array, keys) call whose text is copied
// into Go once. Nothing runs eval or needs a script of comet's own, so
// any page CSP that lets the wasm run allows it.
//
// How Go is woken was measured in one headless Chromium page against
// comet before batching (Go/JS ratios within one run; this 2-CPU machine
// was shared, load average 10–45, so each figure moves by ±0.1 or more):
//
//   - A {once: true} listener that is setTimeout bound to the wake, so
//     every event waits one task: SSE 0.43 vs 0.07, WS 1 KiB with 64 in
//     flight 0.61 vs 0.53, WS 1 KiB ping-pong 0.44 vs 0.55 (the reply
//     waits a task).
//
//   - Go's func as the once listener plus a follow-up timer that enters
//     Go: SSE 0.30 vs 0.13, 64 in flight 0.61 vs 0.51, ping-pong 0.57 vs
//     0.65 (two calls into Go per lone message).
//
//   - Per event into Go until two events come closer than 250µs: SSE
//     0.10 vs 0.06, 64 in flight 0.57 vs 0.60, ping-pong 0.56 vs 0.62 (a
//     wall-clock guess that missed bursts).
//
//   - Go's func as the once listener, and the follow-up as a native
//     probe (Array.prototype.forEach bound to the queue and Go's drain,
//     which calls nothing on an empty queue) on setTimeout: SSE 0.44 vs
//     0.14, 64 in flight 0.81 vs 0.67, ping-pong 0.66 vs 0.72; in a
//     busier run ping-pong fell to 0.22–0.31 vs 0.40–0.48, since a zero
//     timeout can wait behind network tasks and the reply then found the
//     once listener unarmed.
//
//   - Kept: the same, with the probe posted as a MessageChannel message,
//     ordered with the network's tasks (two runs): SSE (with Defer) 1.37
//     and 0.50 vs 0.27 and 0.18, 64 in flight 0.78 and 0.67 vs 0.51 and
//     0.59, ping-pong 0.53 and 0.46 vs 0.58 and 0.75, 64 KiB ping-pong
//     0.94 and 0.44 vs 1.15 and 0.62. Bursts gain; a lone message still
//     pays one extra task (the re-arm and the probe), the price of
//     catching what comes behind it.
//
//   - Kept on top of it (2026-12-01, Go/JS within one run, three
//     runs, load average 7–20): direct mode for ping-pong traffic (see Batch) took WS 1 KiB
//     ping-pong from 0.60, 0.68, 0.73 (the kept design above, same page,
//     same runs) to 0.62, 0.84, 0.80. The 64-in-flight case stays in
//     batch mode (12 trial switches in 3,000 messages) and did not move
//     beyond the noise (0.58, 0.70, 0.97 vs 0.74, 0.66, 0.88). Reading
//     bufferedAmount and readyState only when the bytes sent since the
//     last read could pass the high-water mark saves two calls per Write
//     but measured within the noise (ping-pong 0.56, 0.62, 0.76 with it
//     alone).
//
//   - Tried and dropped: the same direct mode, but with every burst
//     deferred as with Defer (the first event also waits for the probe,
//     so a burst enters Go once, not twice): ping-pong 0.66, 0.72, 0.75
//     vs 0.65, 0.80, 0.92 for the kept design, 64 in flight 0.74, 0.66,
//     0.81 vs 0.75, 0.75, 0.76 (three runs, load average 12–13).
//
// A helper script served beside wasm_exec.js (the other design the issue
// names) was not built: with the native queue no Go code and no boundary
// call runs per queued event, so a helper could only replace a native
// push by a script function and JSON.stringify by its own encoding, at
// the cost of a file every page must load and a per-event fallback.
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
