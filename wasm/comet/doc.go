//go:build js && wasm

// Package comet follows a topic of a comet server from the browser, with
// every message delivered to the application exactly once and in order,
// across dropped connections and transport fallback.
//
// Use Subscribe to follow a topic: it tries its Options.Transports in order
// (by default WS on the server's /ws/realtime, then SSE, Stream, LongPoll,
// Poll), falls back when one fails or goes silent past its heartbeat, and
// resumes each time from the cursor of the last message the application
// received.
// Read messages with (*Subscription).Next or the iterator All; Active and
// Options.OnSwitch report the transport in use and every switch.
//
// The transports are usable alone as Transport values: WS (WebSocket,
// through package wasm/ws), SSE (EventSource, through package wasm/sse),
// Stream (XMLHttpRequest readyState 3,
// https://developer.mozilla.org/en-US/docs/Web/API/XMLHttpRequest/readyState),
// LongPoll (a hanging GET re-sent at once, backing off after failures) and
// Poll (an interval with ETag / If-None-Match). Stream, LongPoll and Poll
// send their requests through package wasm/xhr; a request that fails
// without a status matches ErrNetwork (and xhr.ErrNetwork), an unexpected
// status is a *StatusError.
//
// The wire format (the JSON envelope {topic, offset, epoch, type, data},
// cursors "EPOCH-OFFSET", control envelopes "_open", "_gap", "_ping") is
// described once, in package server/wire; this package mirrors it.
//
// # The guarantee
//
// The application sees every message of the topic exactly once, in offset
// order, whatever connections drop and whichever transport carries it.
// When the server no longer holds the messages after the application's
// cursor (evicted from its bounded history, or lost with a new epoch),
// Next returns a *GapError (errors.Is(err, ErrGap)) instead of skipping
// them; nothing is ever lost silently.
//
// # Caveats
//
// Over HTTP/1.1 a browser opens at most 6 connections per origin; each
// streaming or long-polling subscription holds one.
//
// Stream needs a browser: node's xhr2 polyfill shows the response only
// when it ends, so there Stream stays silent and Subscribe falls back.
package comet
