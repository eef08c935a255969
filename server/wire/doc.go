// Package wire is the one description of comet's realtime wire format. The
// server (server/realtime) encodes it and the browser client (wasm/comet)
// decodes it, both through this package: it has no build tag, imports only
// the standard library, and never net/http, because it is linked into every
// wasm binary that uses comet.
//
// # Offsets, epochs, cursors
//
// Every topic is an append-only log. The first message of a topic has offset
// 1; each further message has the next offset. The epoch is a random id made
// when the topic's log starts (at first use, and again when its history is
// lost); the offsets of a new epoch start again at 1. A Cursor names a
// position: "after offset N of epoch E". Its text form, used in SSE ids,
// query parameters, ETags and JSON, is "E-N", e.g. "9f86d081884c7d65-42".
// The zero Cursor (text "") means "from now on". Use ParseCursor to read one.
//
// # The envelope
//
// Every message travels as one JSON object, the envelope (Message):
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
//     the cursor to resume from if the client accepts the loss; data is a
//     Gap: {"reason":"evicted"|"epoch"|"ahead","want":"E-N","resume":"E-N",
//     "oldest":N}. Streams end after it, except SSE, which stays open with
//     heartbeats only (and sends the gap without an id), so the browser
//     does not reconnect into the same gap.
//   - "_ping": heartbeat (WebSocket, HTTP streaming, and SSE when asked
//     with heartbeat=); epoch and offset give the topic's head.
//
// # Transports
//
// Paths are relative to where the realtime handler is mounted (the demo
// server mounts it at /realtime/); every feed takes topic=T&cursor=E-N.
//
//   - WebSocket (GET ws): one text message per envelope.
//   - SSE (GET sse): one event per envelope; "id:" is the cursor text of the
//     envelope, "event:" its type, "data:" the envelope JSON. "retry:" is
//     sent first; heartbeats are ": ping" comments, or "_ping" events when
//     the request has heartbeat=MS. Last-Event-ID (header, or query
//     parameter lastEventId) wins over cursor=. With named=0 the "event:"
//     field is left out: every event is a "message".
//   - HTTP streaming (GET stream): newline-delimited JSON, one envelope per
//     line, flushed per message; heartbeats are "_ping" envelopes. A line
//     without its newline (a cut) is incomplete: drop it.
//   - Long polling (GET longpoll, timeout=MS) and short polling (GET poll)
//     answer a Batch: {"topic":T,"messages":[envelopes],"cursor":"E-N",
//     "gap":{...}|absent}; max=N bounds the messages of one answer. cursor is
//     where the next request resumes. A long poll that times out answers an
//     empty batch with the same cursor; without a cursor either answers at
//     once with the head, so the client knows where it starts. The poll's
//     ETag is the cursor its batch ends at: If-None-Match with the head's
//     ETag costs a 304.
//   - Many topics on one request (sse, stream, poll, longpoll): repeat
//     topic= and cursor= (in the same order, all or none). Every envelope
//     names its topic; the SSE "id:" is the composite cursor, the cursors of
//     all the topics in topic= order joined by "," ("E1-N1,E2-N2"), which
//     Last-Event-ID resumes; polls answer a JSON array of Batches in topic=
//     order, the poll's ETag being the composite cursor.
//   - Publishing (POST publish): a PublishRequest, {"topic":T,"type":"...",
//     "data":V} or {"topic":T,"messages":[Draft,...]}; the answer is a
//     PublishReply, {"cursor":"E-N","count":N} of the last message. An
//     Idempotency-Key header makes a retry safe: a repeat within the
//     server's window answers the first reply and appends nothing.
//
// # Sessions
//
// A session carries any number of topics, in both directions, over one
// connection (session.go). The client sends Commands: subscribe (op "sub")
// to a topic under a topic number T of its choosing (1 to
// MaxSessionTopics) from a cursor, the oldest message (FromOldest) or now;
// unsubscribe; publish with an idempotency key; ask who is present. The
// server sends lines, several per frame where the transport allows: a line
// that starts with "{" is a Frame (the answer to a command, a gap, a
// heartbeat, presence), any other line is a message of topic T:
//
//	3 {"x":1}            a message of type "message" of topic number 3
//	3:chat "hi"          a message of type "chat"
//	{"op":"sub","t":3,"topic":"news","cursor":"9f86d081884c7d65-41"}
//
// A message's offset is implied: the offset after the subscription's
// cursor, then one more per message of T. The cursor of a subscription is
// therefore known to the client at every line, and it resumes a dropped
// connection by subscribing again from it: every message exactly once, in
// order, or an explicit gap frame.
//
// Every command gets one answer frame, with the command's ID:
//
//   - sub: {"op":"sub","t":T,"topic":…,"cursor":"E-N"} once the broker
//     follows the topic; its messages come after the cursor. With
//     "presence":true the session also joins the topic's presence, and the
//     answer lists the members present ("members"). A sub whose history is
//     gone answers {"op":"gap","t":T,"gap":{…}} instead; one refused answers
//     an "err" frame. Both free T. A subscription is never left silent.
//   - unsub: {"op":"unsub","t":T}; no line of T follows it.
//   - pub: {"op":"pub","topic":…,"cursor":"E-N"} once the broker stored the
//     message (cursor: after it). A command with a Key that repeats one seen
//     within the broker's window (10 minutes) answers the first cursor with
//     "repeat":true and appends nothing; the client retries with the same
//     Key across drops and transports.
//   - who: {"op":"who","t":T,"topic":…,"members":[…]}; by Topic, or by the
//     topic of T.
//
// Later frames of a live subscription: "gap" (the client fell behind the
// history; T is freed: subscribe again from gap.resume to accept the loss),
// "err" with code "unavailable" (the broker failed; T is freed: subscribe
// again from the last cursor), "join" and "leave" with "member" (presence).
// "ping" comes after a quiet heartbeat interval. Error codes: "bad"
// (malformed), "forbidden" (a topic starting with "_" is internal; a server
// topic takes no client publish), "too_many" (topics per session, command
// rate), "too_large", "unavailable" (retry). A Member is
// {"client":ID,"user":U}: client is "u."+user for a token's user, else a
// public id derived from the anonymous client's secret key (the hello's
// "key"; key=KEY on later connections and polls keeps the member), never
// the session id; user is who it is (the same as client until
// authentication fills it). Presence is refreshed with a TTL: the members of
// a node that died leave within the server's presence bound (see
// server/realtime).
//
// Session endpoints (relative to the mount point; sub=T,TOPIC,FROM is the
// query form of a subscribe, repeated; FROM may be empty; a fourth field
// "p" asks for presence: sub=2,chat:lobby,,p):
//
//   - GET session/ws: WebSocket. Commands are text messages (one JSON
//     object each, or a JSON array of them); server frames are text
//     messages of one or more lines. The first frame is "hello". sub= in
//     the URL is allowed too.
//   - GET session/sse?sub=…: Server-Sent Events, one event per frame of
//     lines (a "data:" field per line; no "id:": the client reconnects
//     itself with its cursors, so close the EventSource on error);
//     GET session/stream?sub=…: the lines as an HTTP stream
//     (text/plain). The first frame is a "hello" with the session id;
//     further commands are POSTed to session/cmd?session=ID (a JSON array
//     of Commands, or one), to any node: they reach the session through the
//     broker. The POST answers 202 {"accepted":N}; the answers of the
//     commands come on the stream. 404: the session's own node got the POST
//     and holds no such session (another node cannot tell: it accepts, and
//     the commands of an ended session are dropped, as its client has no
//     stream to hear them on). Commands POSTed with another user's token
//     than the session's get "forbidden" frames.
//   - GET session/poll?sub=… and GET session/longpoll?sub=…&timeout=MS:
//     stateless; each answer (text/plain) holds lines: a "sub" frame for a
//     subscription whose FROM is not a cursor (it gives the start), a "gap"
//     or "err" frame for one that failed, and the message lines after each
//     cursor, at most max=N per topic (default 256). The next request asks
//     from the cursors the client derived from the lines. A long poll
//     waits until one topic has a message or timeout (default 25000) passes;
//     one with a FROM that is not a cursor answers at once.
//   - Presence over the polls: a sub with "p" joins (or refreshes) the
//     member on every poll, and every TTL/3 while a long poll waits. The
//     member is "u."+user with a token; else key=K names it (K: 22
//     base64url characters the client draws once and keeps secret; the
//     member's client id is base64url(SHA-256("comet presence key\n"+K))
//     cut to 16 bytes, so it never reveals K and is never "u."+anything).
//     pres=T,EPOCH-OFFSET (repeated) is the cursor of T's presence events:
//     the answer brings the "join" and "leave" frames after it, each with
//     "presence": the cursor to send next. Without it (the first poll, or
//     events gone from history) the answer has a "who" frame: "members",
//     "member" (the client's own) and "presence" (where its events
//     start), then the events after that (its own join among them).
//     leave=TOPIC (repeated; with key=) removes the member at once and
//     answers an "unsub" frame; who=TOPIC answers a "who" frame with the
//     members. A member whose polls stop leaves when its TTL passes: the
//     node of its last poll sweeps the topic until then.
//   - Sender topics (server Config.SenderTopics; the demo: "chat:*"): a
//     client's publish there is stored as {"from":MEMBER,"data":DATA}, the
//     sender set by the server. The demo's chat on sessions: a room is the
//     topic "chat:ROOM", joined by a sub with presence (from a cursor, or
//     "oldest" for its history); a message is a pub of type "msg" whose
//     data is the text (a JSON string), with a key; members come from the
//     presence frames.
//   - Publishing from one-way transports: a pub command POSTed to
//     session/cmd (its answer comes on the stream), or POST publish with an
//     Idempotency-Key header, to any node.
package wire
