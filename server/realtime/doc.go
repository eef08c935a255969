//go:build !js

// Package realtime is comet's realtime server as a library: one
// http.Handler that serves every transport of the browser client
// (wasm/comet) for the topics of one broker.Broker — WebSocket, Server-Sent
// Events, HTTP streaming, long polling, short polling — and publishing.
//
// Use New with a Config to make a Handler and mount it under a prefix of
// your own mux:
//
//	rt, err := realtime.New(realtime.Config{Origins: []string{"https://app.example"}})
//	mux.Handle("/realtime/", http.StripPrefix("/realtime", rt))
//
// The origin policy, stream limits, body limits and write deadlines are
// built in and tuned by Config. With no Config.Broker the topics live in
// this process (package broker/memory); for history that survives restarts
// and is shared by many nodes, pass a Redis broker (package broker/redis).
//
// # Endpoints
//
// Paths are relative to the mount point; the wire format of each is
// described once, in package wire.
//
//	GET  ws        WebSocket: ?topic=T&cursor=E-N&heartbeat=MS
//	GET  sse       Server-Sent Events (Last-Event-ID resumes)
//	GET  stream    HTTP streaming, newline-delimited JSON
//	GET  longpoll  long polling: ?timeout=MS (default 25s)
//	GET  poll      short polling with ETag / If-None-Match
//	POST publish   wire.PublishRequest → wire.PublishReply; Idempotency-Key
//	GET  health    200 when the broker serves, 503 otherwise
//
// # Limits
//
// A request whose Host is not one of the Handler's names (Config.Hosts and
// the hosts of Config.Origins) gets 421: DNS rebinding cannot reach it.
// Requests from an origin not in Config.Origins get 403 before they take a
// stream slot; an Origin equal to the request's Host is no reason to
// trust it, so list your own page origin. Streams take a slot of
// Config.Streams (503 with Retry-After when none is free). A stream write
// that does not finish within StreamWriteTimeout drops the reader; with
// ConnContext as the http.Server's ConnContext a stream's send buffer is
// StreamSendBuffer, so that happens after kilobytes, not megabytes. One
// client IP may create NewTopicBurst topics by publishing, then
// NewTopicRate per second (429); idle topics age out (broker.Limits).
// Publish bodies over MaxBody get 413; a body that does not arrive within
// BodyReadTimeout gets 408. Broker failures answer 503 with Retry-After.
package realtime
