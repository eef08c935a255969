//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

// Reserved envelope types (see the wire format in package server/wire).
const (
	TypeOpen    = wire.TypeOpen    // first envelope of a connection: the cursor it starts after
	TypeGap     = wire.TypeGap     // the history is gone: data is the gap, epoch/offset the resume cursor
	TypePing    = wire.TypePing    // heartbeat
	TypeMessage = wire.TypeMessage // the default type
)

// Errors.
var (
	ErrGap      = errors.New("comet: history gap") // matched by every *GapError
	ErrCursor   = wire.ErrCursor                   // ParseCursor: a malformed cursor
	ErrClosed   = errors.New("comet: subscription closed")
	ErrSilent   = errors.New("comet: transport silent past its heartbeat")
	ErrEnvelope = errors.New("comet: malformed envelope")
)

// Cursor is a position in a topic: after Offset of Epoch. The zero Cursor
// means "from now on". Its text form is "EPOCH-OFFSET" ("" for zero). It
// is the wire package's type.
type Cursor = wire.Cursor

// ParseCursor parses the text form of a Cursor (wire.ParseCursor).
func ParseCursor(s string) (Cursor, error) { return wire.ParseCursor(s) }

// Message is the envelope of one message (and of control envelopes): the
// wire package's type. A Client rebuilds it from the compact session
// lines, with the offset the line implies.
type Message = wire.Message

// GapError says the messages after Want are gone: evicted from the server's
// bounded history ("evicted"), lost with an epoch change ("epoch"), or never
// published ("ahead"). Resume is where a reader that accepts the loss
// continues (pass it as Options.From).
type GapError struct {
	Topic  string `json:"-"`
	Reason string `json:"reason"`
	Want   Cursor `json:"want"`
	Resume Cursor `json:"resume"`
	Oldest uint64 `json:"oldest"`
}

func (e *GapError) Error() string {
	return "comet: history gap in topic " + strconv.Quote(e.Topic) + " (" + e.Reason + "): want after " +
		strconv.Quote(e.Want.String()) + ", can resume after " + strconv.Quote(e.Resume.String())
}

// Is makes errors.Is(err, ErrGap) true.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// gapFrom decodes a "_gap" envelope.
func gapFrom(m Message) *GapError {
	return gapError(m.Topic, wire.ParseGap(m))
}

// gapError is the *GapError of g in topic.
func gapError(topic string, g wire.Gap) *GapError {
	return &GapError{Topic: topic, Reason: g.Reason, Want: g.Want, Resume: g.Resume, Oldest: g.Oldest}
}

// Feed is what a Transport serves: one topic of one server, from a cursor.
type Feed struct {
	// URL is the server's base URL without a trailing slash, e.g.
	// "http://127.0.0.1:8080". Transports add their path ("/realtime/sse",
	// "/realtime/ws", ...).
	URL string
	// Topic is the topic to follow.
	Topic string
	// From is the cursor to start after. Zero means "from now on".
	From Cursor
	// Heartbeat is the interval at which the transport should ask the server
	// for a sign of life (a "_ping" envelope, or an empty long-poll answer).
	Heartbeat time.Duration
	// Deliver receives every envelope the server sends, in order: the
	// "_open", "_ping" and "_gap" control envelopes as well as messages.
	// The transport must call it from a goroutine, never from inside a
	// js.FuncOf callback, and stop and return Deliver's error when it
	// returns one.
	Deliver func(Message) error
	// Token returns the token for each request (query parameter "token"
	// of EventSource and WebSocket URLs, "Authorization: Bearer" on XHRs).
	// Nil means none. SubscribeFeed sets it from Options.Token.
	Token func(ctx context.Context) (string, error)
}

// Transport carries one topic from the server to the client.
// SubscribeFeed calls Run once per connection attempt; implementations
// keep no state between calls (their fields are configuration). A Client
// (and so Subscribe) uses this package's five values through their
// session endpoints instead, never Run; a Transport of the application's
// own makes Subscribe run SubscribeFeed.
//
// Run connects to f.URL, asks for the messages of f.Topic after f.From,
// and hands every envelope to f.Deliver in order until something ends it.
// It always returns a non-nil error: ctx.Err() when ctx ends, Deliver's
// error, or the failure (connection lost, bad status, malformed envelope).
// Within one Run it may re-request (polls) or let the browser reconnect
// (EventSource) only from the cursor of the last envelope Deliver
// accepted; after a failure it returns, and the caller resumes from the
// cursor of the last message it accepted, which is what makes delivery
// exactly-once. Deliver also skips repeats and refuses gaps in the order,
// so a transport cannot break the guarantee by resending. Run must
// release everything it holds (listeners, js.Funcs, requests) before
// returning.
//
// A "_gap" envelope ends the feed: the transport delivers it (Deliver then
// returns a *GapError, which Run returns).
type Transport interface {
	// Name is a short lower-case name ("ws", "sse", "stream", "longpoll",
	// "poll") reported in Switch events.
	Name() string
	Run(ctx context.Context, f Feed) error
}
