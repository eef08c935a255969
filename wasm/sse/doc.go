//go:build js && wasm

// Package sse receives Server-Sent Events in Go WebAssembly through the
// browser's EventSource
// (https://developer.mozilla.org/en-US/docs/Web/API/EventSource).
//
// Use Open to connect, then Next (or the iterator All) to read events in
// order. ReadyState and LastEventID report the connection; Options.OnState
// sees every state change. Close (or the end of the context given to Open)
// closes the EventSource; it is idempotent.
//
// # Reconnection
//
// The browser's own reconnection is kept: after a dropped connection it
// waits for the server's retry: time and reconnects with a Last-Event-ID
// header; the stream goes on. When the browser gives up instead (a status
// other than 200, 204 No Content, or a Content-Type other than
// text/event-stream), Next returns an *Error with the reason.
//
// Against a server that cannot be reached (a refused port, a network
// error) browsers retry forever, every 3 s in Chromium, and the page
// learns nothing. Options.MaxAttempts (default 5) ends that: after that
// many failed attempts in a row the source closes and Next returns an
// *Error with Attempts set.
//
// EventSource does not say why it failed, so the package asks once more
// with an XHR and reads its status and Content-Type. That request sends
// only what EventSource sends: Accept: text/event-stream, and
// Last-Event-ID only to the page's own origin, because cross-origin that
// header is outside the CORS safelist and would make the browser
// preflight a request that EventSource never preflights. When the
// diagnostic request fails too (status 0), Reason says the cause is
// unknown rather than guessing: a network error, a refused connection, a
// CORS refusal and the page's policy all look the same to a page.
//
// # Crossing into Go
//
// A page that loads comet_batch.js (in public/, beside wasm_exec.js, with
// a <script src>) lets events reach Go in batches (package
// internal/jsutil): that script queues each event's strings as
// length-prefixed UTF-8 in one byte buffer, and Go takes each burst (a
// network chunk of events) with one copy. The first event after a quiet
// spell enters Go at once, so a lone event waits for no task; those
// behind it in the burst come in one batch. The Data and ID strings of
// one burst share a buffer, so keeping one event keeps its burst's
// bytes. Without the script every event calls into Go on its own (slower
// for a burst; nothing else changes).
//
// The batch of a burst's later events waits for a task the script posts,
// which Chromium runs 25-75 ms after a burst of a thousand events. A server
// that marks the end of a burst with an event of its own lets them reach
// Go without that wait: name it in Options.FlushEvent (comet's
// /realtime/sse and /realtime/session/sse send "_flush" after a burst when
// asked with flush=1; wasm/comet's SSE transports ask).
//
// # Slow consumers
//
// Events wait in a bounded queue (Options.QueueSize). A consumer that lets
// it fill up gets ErrOverflow from Next after the queued events, and the
// EventSource is closed: events are never dropped silently.
//
// # Named events
//
// EventSource dispatches an event named by an "event:" field only to
// listeners of that name, so name them in Options.Events; "message" is
// always received.
package sse
