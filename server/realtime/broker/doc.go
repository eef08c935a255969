//go:build !js

// Package broker defines the Broker interface behind every realtime
// transport of comet: an append-only log per topic with offsets, epochs and
// a bounded history, and a live tail that follows it. Its implementations
// live side by side: package memory (the embedded default, one process) and
// package redis (many nodes on one Redis). Package brokertest is the one
// conformance suite every implementation passes.
//
// # The guarantee
//
// A reader that always resumes from the cursor of the last message it
// received sees every message of the topic exactly once, in offset order,
// whatever connections drop in between. When the messages after its cursor
// are no longer there (evicted from the bounded history, or the epoch
// changed because the history was lost), it gets a *GapError, never a
// silent loss. Subscribe is race-free: no message falls between the history
// it reads and the live tail that follows.
//
// # Idempotency
//
// Publish takes an optional idempotency key. A repeat of a key within the
// broker's window (IdempotencyWindow) returns the first Receipt, with
// Repeat set, and appends nothing.
//
// # Presence
//
// A Broker may also implement Presence: members per topic, keyed by a
// client id, each with a TTL that its node refreshes. A killed node stops
// refreshing, so its members expire; Expire hands each expired member to
// one caller only, which announces the leave. The conformance suite tests
// Presence when the Broker implements it (and skips it otherwise).
package broker
