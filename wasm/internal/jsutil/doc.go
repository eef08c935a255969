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
// of an SSE burst). Batch queues events on the JavaScript side in the
// page's helper script (below) and drains each burst in one call into Go.
// A page without the script gets one call into Go per event, each read
// with Get: slower for a burst, never broken, and needing nothing of
// the page but the wasm.
//
// Until 2026-12-02 a page without the script got a native queue instead:
// Array.prototype.push bound to an array as the listener, a {once: true}
// wake listener, a probe (Array.prototype.forEach bound to the array)
// posted as a MessageChannel message, and a direct mode for ping-pong
// traffic. It cost 27 KB of the core packages' wasm (+715.0 → +687.9 KB
// raw over the hello without it), for pages that do not load a script
// every page of comet's (demo, tests, bench) loads; the helper's queue
// keeps the design it measured best (the first event wakes Go at once, a
// posted MessageChannel task drains what came behind). (Before that, the
// native queue drained with one JSON.stringify(array, keys) and a JSON
// parser in Go: another ~18 KB.)
//
// How Go is woken was measured on that native queue, in one headless
// Chromium page against comet before batching (Go/JS ratios within one
// run; this 2-CPU machine
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
//     runs, load average 7–20): direct mode for ping-pong traffic took WS 1 KiB
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
// # The helper script
//
// A page may load comet_batch.js (in public/, served beside wasm_exec.js
// with <script src>, so no eval and no inline script). It defines
// globalThis.cometBatch, and NewBatch detects it. The script's listener
// appends each event's strings to one growing Uint8Array as a 4-byte
// length and TextEncoder.encodeInto's UTF-8, its numbers as float64 and
// its booleans as a tag (XHR progress), and its objects (a WebSocket's
// ArrayBuffer or Blob) to an array. A drain is one take(), which
// returns the byte count (the events' count is the last 4 bytes), and
// one js.CopyBytesToGo from the array Go keeps a handle on (a new handle
// only when the script's buffer changed: no js.Value and no finalizer per
// batch), plus one Get of the objects when there are any, parsed in Go
// with no unescaping. Helper returns the script for the packages' other
// uses of it (ws's sendText, xhr's xhrEnd and xhrResult), reading its
// version only once per script object, and warns on the console once
// for a script of another version (a stale cached copy), which is not
// used. BatchOptions.Flush names an event type that ends a burst (comet's
// SSE "_flush"): the script drains its queue when one arrives, without
// waiting for its task. The script has no direct mode: with
// it, a WebSocket ping-pong pays the posted task per message (JavaScript
// only; it does not enter Go).
//
// Measured (2026-12-02, the bench's SSE case: a replay of 1,000 events of
// ~180 B, whose data is itself JSON; instrumented drains): the JSON drain
// took 5–41 ms in JSON.stringify plus 4–112 ms to encode and copy per
// 1,000 events; a first helper that concatenated length-prefixed text
// still took 2–15 ms in TextEncoder (flattening the concatenation);
// the kept byte buffer takes 0.1–2 ms to copy and 0–3 ms to parse. The
// Go/JS ratio did not move (three runs each, load average 3–7: JSON
// 0.24, 0.20, 0.18 and 0.16, 0.17, 0.25; helper 0.21, 0.32, 0.36 and
// 0.19, 0.39, 0.24), because what bounds it is not the drain: a task
// posted at a burst's first event (MessageChannel, setTimeout, or
// scheduler.postTask at "user-blocking") runs 25–75 ms after the burst's
// last event is dispatched, and one posted at the last event itself runs
// 30–100 ms later, in plain JavaScript too (measured in the bench page
// with no Go code of the case running; the Long Tasks API shows a
// 50–70 ms task, not identified, around the burst's end): the main
// thread stays busy, and plain JavaScript's clock has stopped at that
// last event. Any hand-off that waits for a task pays it. Waking Go from
// the listener every 16, 64 or 256 events measured worse or within the
// noise (0.08–0.22, 0.12–0.20, 0.24–0.51): each call into Go costs more
// than the events it saves.
//
// Without Defer (wasm/sse since 2026-12-02) the script's first event after
// a quiet spell also calls Go at once, as the native path does for WS:
// the posted task then only drains what came behind it. A lone SSE event
// waited ~1.3 ms for that task in Chromium on this machine (the bench's
// latency case, instrumented with performance.now() marks: the script's
// listener to Go's drain), 0.3 ms with the eager call; the SSE throughput
// case did not move beyond the noise (one extra call into Go per burst).
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
