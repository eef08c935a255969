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
//	GET  sse       Server-Sent Events (Last-Event-ID resumes); flush=1 adds
//	               a wire.SSEFlush event after a write of several messages
//	GET  stream    HTTP streaming, newline-delimited JSON
//	GET  longpoll  long polling: ?timeout=MS (default 25s)
//	GET  poll      short polling with ETag / If-None-Match
//	POST publish   wire.PublishRequest → wire.PublishReply; Idempotency-Key
//	GET  health    200 when the broker serves, 503 otherwise
//
// GET sse, stream, poll and longpoll also follow many topics at once:
// repeat topic= (and cursor=, in the same order). The SSE id is then the
// composite cursor, the topics' cursors in topic= order joined by ",", so
// Last-Event-ID resumes every topic; poll and longpoll answer a JSON array
// of Batches in topic= order, and the poll's ETag is the composite cursor.
//
// # Sessions
//
// A session carries many topics in both directions over one connection
// (the protocol: package wire, "Sessions"):
//
//	GET  session/ws        WebSocket: commands in, frames of lines out
//	GET  session/sse       Server-Sent Events: one event per frame; flush=1
//	                       adds a wire.SSEFlush event after a burst of several
//	GET  session/stream    HTTP streaming: the lines (text/plain)
//	POST session/cmd       commands of an SSE or stream session, to any node
//	GET  session/poll      stateless: the lines after the cursors of sub=
//	GET  session/longpoll  the same, waiting for a message
//
// Each subscription of a session follows the broker (on the memory broker
// through a callback, without a goroutine of its own; otherwise in its own
// goroutine) and appends its messages to the session's queue as lines ("T
// data"); the transport writes what is queued as frames of at most 32 KiB,
// so a burst of messages shares a frame. A message's data is the broker's
// stored JSON, copied as is: nothing is encoded per session but the topic
// number. A single-topic WebSocket or stream follows its topic the same
// way (on the memory broker in callbacks, with a timer for its
// heartbeat). An idle WebSocket (session or single-topic) holds one
// goroutine for its reading, parked in a shallow frame with a 2 KiB stack
// and no read buffer between messages (each message is read and handled
// by the goroutine that waited, which hands the waiting on to a fresh
// one); the pings are a timer, and frames are written with one writev,
// without a write buffer per connection.
//
// Over HTTP/1.1 an SSE or stream session, and a single-topic sse or
// stream, takes over its connection once its response starts (chunked,
// "Connection: close"): an idle one holds one shallow goroutine, parked
// until its client goes (a single-topic one on another broker a second,
// waiting for the broker); over HTTP/2 and HTTP/1.0 it is served from
// net/http's handler.
//
// Commands of SSE and stream sessions are POSTed to session/cmd of any
// node: the session id names the node ("NODE.RANDOM"); the receiving node
// publishes the commands to the internal topic "_n:NODE", which each
// Handler follows once. Topics starting with "_" are internal: clients
// cannot follow or publish to them on any endpoint (403, or "forbidden").
//
// Presence (subscriptions with presence): members live in the broker's
// Presence (Config.Presence) with a TTL (Config.PresenceTTL, 15s) that the
// member's node refreshes every TTL/3; joins and leaves are published to
// "_p:TOPIC" and forwarded to the members' sessions as frames. Every node
// sweeps the topics its sessions are members of every TTL/3 and announces
// the leave of expired members, so the members of a killed node leave
// within 4/3 TTL (20s by default) while a node stays on the topic. A member
// is {client, user}: client is "u."+user with a token, else a public id
// derived from the client's secret key (random in the hello, or the key=
// the client sends on a connection or poll, so it is one member on every
// transport; never the session id, which is a capability), and user is
// the same until authentication fills it. Over session/poll and session/longpoll every
// poll refreshes the member (anonymous: derived from the client's secret
// key=, "u."+user with a token), carries the cursor of "_p:TOPIC"
// (pres=T,CURSOR) and gets the events after it as frames; leave=TOPIC and
// who=TOPIC ask without a subscription (package wire, "Sessions"). The node
// that served a member's last poll sweeps its topic for 2 TTLs, so a
// poller that stops leaves within 4/3 TTL of its last poll.
//
// Per session: at most SessionTopics subscriptions, SessionQueue bytes
// queued (a subscription waits while it is full: a reader that does not
// keep up gets a gap, never unbounded memory), SessionRate commands per
// second; at most 256 commands per POST or WebSocket message.
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
//
// # Caveats
//
// An accepted WebSocket is served after its handler returned (so that
// net/http's goroutine and request state are freed): cancelling the
// request's context, e.g. in a middleware, does not end it; the client
// leaving, a failed write, its token's expiry and Handler.Close do. A
// middleware that must end connections closes the hijacked net.Conn.
// Nothing of the request is kept either: Authorize calls for the
// commands of a session WebSocket get a context without the request's
// values (carry what they need in Identity.Grants).
//
// The same holds for SSE and HTTP streams over HTTP/1.1, whose
// connections are hijacked too: their headers are those of the
// ResponseWriter when the stream starts, and http.Server.Shutdown does
// not wait for them (Handler.Close ends them).
package realtime
