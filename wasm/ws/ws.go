//go:build js && wasm

package ws

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// MessageType is the type of a WebSocket message.
type MessageType int

// The message types, numbered as in coder/websocket.
const (
	// MessageText is a UTF-8 text message.
	MessageText MessageType = iota + 1
	// MessageBinary is a binary message.
	MessageBinary
)

func (t MessageType) String() string {
	switch t {
	case MessageText:
		return "MessageText"
	case MessageBinary:
		return "MessageBinary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode int

// Close codes defined by RFC 6455 and IANA. A browser may receive any of
// them, but Close may only send StatusNormalClosure or a code in 3000–4999.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005 // never sent: the close frame had no code
	StatusAbnormalClosure         StatusCode = 1006 // never sent: the connection dropped
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015
)

// Application close codes comet uses where a browser may not send the RFC
// code (browsers throw for anything but 1000 and 3000–4999). Each is
// 4000 plus the RFC code it stands for. The comet server uses the same
// numbers.
const (
	// StatusKicked: the server removed the client (e.g. a forced
	// disconnect).
	StatusKicked StatusCode = 4001
	// StatusPolicy stands for 1008: a rate or policy limit was broken.
	StatusPolicy StatusCode = 4008
	// StatusTooBig stands for 1009: a message exceeded the read limit.
	StatusTooBig StatusCode = 4009
	// StatusTooSlow stands for 1013: the receiver fell behind and its
	// bounded queue overflowed.
	StatusTooSlow StatusCode = 4013
)

func (c StatusCode) String() string { return "StatusCode(" + strconv.Itoa(int(c)) + ")" }

// maxReasonBytes is the browser's limit for a close reason in UTF-8 bytes.
const maxReasonBytes = 123

// Errors. Test with errors.Is.
var (
	// ErrNoWebSocket: the JavaScript environment has no WebSocket global
	// (node 20 without a polyfill).
	ErrNoWebSocket = errors.New("ws: WebSocket is not available in this JavaScript environment")
	// ErrDial: the connection could not be opened. The error also holds
	// a CloseError with what the browser reported (almost always 1006),
	// and its text lists the likely causes, since the browser hides the
	// real one from the page.
	ErrDial = errors.New("ws: dial failed")
	// ErrClosed: the connection is closed; the error also holds the
	// CloseError when one is known.
	ErrClosed = errors.New("ws: connection closed")
	// ErrInvalidCode: Close was given a code a browser may not send.
	ErrInvalidCode = errors.New("ws: close code must be 1000 or in 3000-4999")
	// ErrReasonTooLong: a close reason over 123 UTF-8 bytes.
	ErrReasonTooLong = errors.New("ws: close reason is longer than 123 bytes")
	// ErrInvalidUTF8: a text message or close reason that is not UTF-8.
	ErrInvalidUTF8 = errors.New("ws: text is not valid UTF-8")
	// ErrMessageType: Write was given an unknown MessageType.
	ErrMessageType = errors.New("ws: unknown message type")
	// ErrReadLimit: a message was larger than DialOptions.ReadLimit; the
	// connection was closed with StatusTooBig.
	ErrReadLimit = errors.New("ws: message exceeds the read limit")
	// ErrReadQueueFull: the Go reader fell behind and the incoming queue
	// overflowed; the connection was closed with StatusTooSlow.
	ErrReadQueueFull = errors.New("ws: incoming queue full: reader too slow")
	// ErrSendQueueFull: a reconnecting Client is offline and its send
	// queue is full.
	ErrSendQueueFull = errors.New("ws: send queue full while disconnected")
)

// CloseError is how a connection ended, from the browser's CloseEvent.
type CloseError struct {
	Code     StatusCode
	Reason   string
	WasClean bool // the closing handshake completed
}

func (e CloseError) Error() string {
	s := "ws: closed with status " + strconv.Itoa(int(e.Code))
	if e.Reason != "" {
		s += " and reason " + jsutil.Quote(e.Reason)
	}
	if !e.WasClean {
		s += " (unclean)"
	}
	return s
}

// CloseStatus returns the close code held by err (a CloseError anywhere in
// its chain), or -1.
func CloseStatus(err error) StatusCode {
	var ce CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// dialHint says why a dial may have failed: the browser reports every
// failure as a bare 1006 (the WebSocket spec forbids telling the page
// more), so the causes are listed.
func dialHint(url string, subprotocols bool) string {
	s := "the browser does not say why. Likely: the server refused the handshake (e.g. 403 for this page's Origin, or 404), nothing listens there (connection refused), the page's Content-Security-Policy blocked it"
	if subprotocols {
		s += ", the server chose none of the offered subprotocols"
	}
	if len(url) >= 4 && url[:4] == "wss:" {
		s += ", the TLS handshake failed (e.g. an untrusted certificate)"
	}
	return s + ". The browser's console has the detail"
}

// checkClose validates a code and reason against the browser's rules.
func checkClose(code StatusCode, reason string) error {
	if code != StatusNormalClosure && (code < 3000 || code > 4999) {
		return &wrapError{msg: "ws: close code " + strconv.Itoa(int(code)), err: ErrInvalidCode}
	}
	if len(reason) > maxReasonBytes {
		return &wrapError{msg: "ws: reason of " + strconv.Itoa(len(reason)) + " bytes", err: ErrReasonTooLong}
	}
	if !utf8.Valid([]byte(reason)) { // Write links Valid: no ValidString too
		return &wrapError{msg: "ws: close reason", err: ErrInvalidUTF8}
	}
	return nil
}

// wrapError adds context to err; errors.Is and errors.As see through it
// and through the optional CloseError.
type wrapError struct {
	_     [0]func() // not comparable: no equality function linked
	msg   string
	err   error
	hint  string // said after err, e.g. the likely causes of a failed dial
	close *CloseError
}

func (e *wrapError) Error() string {
	s := e.msg + ": " + e.err.Error()
	if e.hint != "" {
		s += "; " + e.hint
	}
	if e.close != nil {
		s += " (" + e.close.Error() + ")"
	}
	return s
}

func (e *wrapError) Unwrap() []error {
	if e.close != nil {
		return []error{e.err, *e.close}
	}
	return []error{e.err}
}
