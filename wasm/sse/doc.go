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
// text/event-stream), Next returns an *Error with the reason, probed with
// one extra request because EventSource itself does not tell.
//
// # Crossing into Go
//
// Events do not call into Go one by one: a native listener queues them on
// the JavaScript side, and Go takes each burst (a network chunk of events)
// in one call, decoded from one JSON text (package internal/jsutil). The
// Data and ID strings of one burst share a buffer, so keeping one event
// keeps its burst's bytes.
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
