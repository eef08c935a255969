//go:build !js

// Package hub is comet's message log: every topic is an append-only log
// with uint64 offsets, an epoch, and a bounded history, read by any number
// of subscribers from a cursor. Every realtime transport of the server (SSE,
// HTTP streaming, long polling, short polling, WebSocket) serves the same
// Hub.
//
// Use New to make a Hub, Publish to append a message, Subscribe to follow a
// topic from a Cursor, Read for one non-blocking read (short polling), and
// Wait for one blocking read (long polling).
//
// # The guarantee
//
// A reader that always resumes from the cursor of the last message it
// received sees every message of the topic exactly once, in offset order,
// whatever connections drop in between. When the messages after its cursor
// are no longer there (evicted from the bounded history, or the epoch changed
// because the history was lost), it gets a *GapError, never a silent loss.
//
// # Offsets, epochs, cursors
//
// The first message of a topic has offset 1; each further message has the
// next offset. The epoch is a random id made when the topic's log starts
// (at first use, and again when Reset or a restart loses the history); the
// offsets of a new epoch start again at 1. A Cursor names a position: "after
// offset N of epoch E". Its text form, used in SSE ids, query parameters,
// ETags and JSON, is "E-N", e.g. "9f86d081884c7d65-42". The zero Cursor (text
// "") means "from now on": the reader starts after the newest message.
//
// # Wire format (the one description; the wasm/comet client mirrors it)
//
// Every message travels as one JSON object, the envelope:
//
//	{"topic":"chat","offset":42,"epoch":"9f86d081884c7d65","type":"message","data":{...}}
//
// data is any JSON value the publisher gave (null when absent); type is the
// publisher's event type ("message" when absent). Types starting with "_"
// are reserved for control envelopes, which every transport sends in the
// same shape:
//
//   - "_open": first envelope of every connection (SSE, stream, WebSocket);
//     epoch and offset give the cursor the connection starts after, data is
//     null. A client that subscribed with the zero cursor stores it.
//   - "_gap": the history the client asked for is gone. epoch and offset give
//     the cursor to resume from if the client accepts the loss; data is
//     {"reason":"evicted"|"epoch"|"ahead","want":"E-N","resume":"E-N",
//     "oldest":N}. Streams end after it, except SSE, which stays open with
//     heartbeats only (and sends the gap without an id), so the browser
//     does not reconnect into the same gap.
//   - "_ping": heartbeat (WebSocket, HTTP streaming, and SSE when asked
//     with heartbeat=); epoch and offset give the topic's head.
//
// Per transport (paths under /realtime/, query topic=T&cursor=E-N):
//
//   - SSE (GET /realtime/sse): one event per envelope; "id:" is the cursor
//     text of the envelope, "event:" its type, "data:" the envelope JSON.
//     "retry:" is sent first; heartbeats are ": ping" comments, or "_ping"
//     events when the request has heartbeat=MS. Last-Event-ID (header, or
//     query parameter lastEventId) wins over cursor=. With named=0 the
//     "event:" field is left out: every event is a "message" (the type is
//     in the envelope), so a client need not know the types in advance.
//   - HTTP streaming (GET /realtime/stream): newline-delimited JSON, one
//     envelope per line, flushed per message; heartbeats are "_ping"
//     envelopes. A line without its newline (a cut) is incomplete: drop it.
//   - Long polling (GET /realtime/longpoll, timeout=MS) and short polling
//     (GET /realtime/poll) answer a Batch: {"topic":T,"messages":
//     [envelopes],"cursor":"E-N","gap":{...}|absent}; max=N bounds the
//     messages of one answer. cursor is where the next request resumes.
//     A long poll that times out answers an empty batch with the same
//     cursor; without a cursor either answers at once with the head, so
//     the client knows where it starts. The poll's ETag is the cursor its
//     batch ends at: If-None-Match with the head's ETag costs a 304.
//   - Publishing (POST /realtime/publish): {"topic":T,"type":"...","data":V}
//     or {"topic":T,"messages":[{"type":..,"data":..},...]}; the answer is
//     {"cursor":"E-N"} of the last message.
//
// # Test faults
//
// With Config.Faults, SetFaults plans cuts and stalls for a topic. A
// streaming transport asks NextFault when a connection starts, sends that
// many messages, then cuts the connection mid-frame (or stalls it: open and
// silent); a polling transport asks BatchFault before each answer. Both
// report with Faulted. Faults reports what happened. The server exposes
// this under /test/realtime/ only with -test-hooks. Without Config.Faults
// no fault ever happens.
package hub
