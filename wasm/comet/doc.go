//go:build js && wasm

// Package comet follows topics of a comet server from the browser, and
// publishes to them, with every message delivered to the application
// exactly once and in order, across dropped connections and transport
// fallback.
//
// # One connection per page: Client
//
// Use Connect to open a session: one transport connection (WebSocket on
// /realtime/session/ws first, then SSE, HTTP streaming, long polling,
// polling, the same Transport values as Subscribe's) that carries any
// number of subscriptions, added and removed at any time without
// reconnecting (Client.Subscribe; SubscribeOptions say where one starts:
// now, the oldest retained message, or a cursor). The wire (compact lines
// "T data", offsets implied) is package server/wire's; this package
// decodes it with that package's codec.
//
//   - Each subscription keeps its own cursor: after a drop or a switch the
//     client subscribes every topic again from its cursor on the new
//     connection, so each one gets every message exactly once, in order, or
//     a *GapError.
//   - Client.Publish returns the cursor of the stored message. Each publish
//     has an idempotency key and is sent again after a drop, on whatever
//     transport is up: the "pub" command on WebSocket, POST
//     /realtime/publish with an Idempotency-Key header otherwise. The server
//     drops repeats within its window (10 minutes), so a message is stored
//     once; publishes are sent one at a time, so they are stored in call
//     order. A refusal is a *CommandError (ErrForbidden, ErrTooLarge, ...).
//   - Presence: SubscribeOptions.Presence joins the topic;
//     Subscription.NextPresence returns joins and leaves, Subscription.Who
//     the members (session transports only: the polls carry none).
//   - Nothing waits silently: the server must greet a connection and
//     confirm each subscription within Options.ConfirmTimeout, else Next
//     returns an *UnconfirmedError (not terminal) and the client switches
//     transport. After a fallback it probes the better transports in the
//     background (Options.Probe) and moves back up without loss or
//     repeats; Client.Active, Client.Stats and Options.OnSwitch report it.
//
// # Tokens
//
// A server with -token-secret-file (or its own realtime.Authorizer)
// wants a token on every connection and request. Options.Token fetches
// one (e.g. from the application's login endpoint); the Client sends it as
// "Authorization: Bearer" on XHRs and as the token query parameter of
// EventSource and WebSocket URLs, which cannot carry headers. It reads a
// JWT's exp claim (unverified) and fetches the next token when a quarter of
// the lifetime is left. The server ends a stream at its token's exp (a
// WebSocket closes with 4401); the Client reconnects with the new token
// from its cursors, losing and repeating nothing. After a 401 it fetches a
// fresh token once; if that is refused too, the Client ends with
// ErrUnauthenticated. A subscribe or publish the server's topic rules
// refuse is ErrForbidden, and the rest of the session goes on.
// Client.Stats counts the tokens fetched. Subscribe and SubscribeFeed
// take Options.Token the same way (SubscribeFeed's transports get it as
// Feed.Token).
//
// # One call per topic: Subscribe
//
// Use Subscribe to follow a topic without managing a Client: it is sugar
// over one. Every Subscribe of the page with the same connection settings
// (URL, Transports, Heartbeat, Silence, Backoff, ConfirmTimeout, Probe,
// and the same Token func value) shares one Client, opened by the first
// and closed when its last subscription closes or its context ends, so a
// dashboard that calls Subscribe for 8 or 20 topics holds one connection,
// not one per topic (over HTTP/1.1 a browser allows 6 per origin). Like
// socket.io's multiplexed Manager, the sharing is on by default;
// Options.Private (socket.io's forceNew) gives a subscription a Client of
// its own. Options.From, QueueSize and OnSwitch stay per subscription.
// Read messages with (*Subscription).Next or the iterator All; Active and
// Options.OnSwitch report the transport in use and every switch.
//
// The shared Clients live in one package-level pool, the package's only
// mutable global: sharing across independent Subscribe calls needs it, as
// a browser's connection pool is per page. It holds only Clients with live
// subscriptions.
//
// Subscriptions on one connection never wait for each other: when one's
// queue (Options.QueueSize) is full, the client takes that topic off the
// connection (an "unsub") and subscribes it again from its cursor once
// Next has read half of the queue, so nothing is lost or repeated and the
// other topics flow on; a reader that falls behind the server's retained
// history gets a *GapError. Stats.Overflows counts it.
//
// # One connection per topic: SubscribeFeed
//
// SubscribeFeed is the single-topic engine: one connection per call, on
// the server's single-topic endpoints (/ws/realtime, /realtime/sse,
// stream, longpoll, poll), running a Transport's Run with a Feed. It tries
// its Options.Transports in order, falls back when one fails or goes
// silent past its heartbeat, and resumes each time from the cursor of the
// last message the application received. Subscribe runs it when
// Options.Transports holds a Transport of the application's own (anything
// but this package's five values, or a WS with a Path), because a session
// cannot carry one: a custom Transport serves one Feed. It stays for what
// needs one topic on one connection: Transports of one's own (the demo's
// race wraps each to cut its connection, and races the five against each
// other, one lane each), tests that plan faults per topic on the
// single-topic endpoints, benchmarks of one transport, and servers that
// serve only those endpoints.
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
// SubscribeFeed's wire format (the JSON envelope {topic, offset, epoch, type, data}, cursors
// "EPOCH-OFFSET", control envelopes "_open", "_gap", "_ping") is described
// once, in package server/wire; Cursor and Message are that package's
// types.
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
// Over HTTP/1.1 a browser opens at most 6 connections per origin; a
// Client, and so every Subscribe sharing it, holds one for all its topics
// (two for a moment while a probe runs); each SubscribeFeed and each
// Private Subscribe holds one of its own.
//
// Since Subscribe shares a session, its Next may also return an
// *UnconfirmedError (not terminal; All yields it and goes on) where the
// old per-topic engine stayed silent, and Stats counts this topic's view
// of the shared connection (see Stats). A session carries at most 256
// topics: the 257th Subscribe with the same settings opens a second
// connection.
// A slow reader's topic is re-subscribed every time its queue fills,
// which costs a round trip per half queue: give a topic that is read in
// bursts a larger QueueSize.
//
// Stream needs a browser: node's xhr2 polyfill shows the response only
// when it ends, so there Stream stays silent and Subscribe falls back.
package comet
