//go:build js && wasm

// Package ws is the browser's WebSocket for Go WebAssembly, with the API
// names of github.com/coder/websocket so client and server code read alike,
// but without net/http (a program importing only ws is far smaller).
//
// Use Dial to connect, Conn.Read and Conn.Write to exchange text and binary
// messages, and Conn.Close to end with a code and reason. After the peer
// closes, Read returns an error holding a CloseError (code, reason,
// wasClean from the CloseEvent): read it with CloseStatus or errors.As. Use
// Reconnect for a Client that redials with backoff and jitter, reports its
// state, and queues sends during an outage. Package wsjson reads and
// writes JSON messages.
//
// See https://developer.mozilla.org/en-US/docs/Web/API/WebSocket.
//
// # Differences from coder/websocket
//
// The names are coder/websocket's (Dial, DialOptions, Conn.Read,
// Conn.Write, Conn.Close, CloseNow, CloseError, CloseStatus, StatusCode,
// MessageText, MessageBinary), and so is most of their meaning. Where they
// differ:
//
//   - Read's ctx bounds only the wait. When it ends, Read returns
//     ctx.Err() and the connection stays open, with its queued messages
//     kept for the next Read; coder/websocket's Read closes the connection
//     with StatusPolicyViolation (1008) instead, which a browser may not
//     send (decided in issue 16: a browser client more often wants a
//     timed wait than a torn-down connection). Close or CloseNow ends it.
//   - Close accepts only codes a browser may send (see Close codes).
//   - A failed Dial says less: the browser reports every failure (a 403,
//     a refused port, no accepted subprotocol, TLS) as a bare 1006 and
//     hides the cause from the page, so the error (ErrDial) lists the
//     likely ones; the browser's console shows the real one.
//
// # Close codes
//
// Browsers throw for a close code other than 1000 or 3000–4999, or a
// reason over 123 UTF-8 bytes. Close checks both and returns
// ErrInvalidCode or ErrReasonTooLong instead. Where the package closes on
// its own it uses browser-valid codes: StatusTooBig (4009) for a message
// over the read limit, StatusTooSlow (4013) when the incoming queue
// overflows, 1000 for CloseNow, and close() without a code when a dial's
// context ends (coder/websocket's wasm client sends 1001, 1008 and 1009
// there, which browsers reject with an exception).
//
// # Flow control
//
// Sending: the browser buffers what WebSocket.send is given, without
// limit. Write waits while bufferedAmount is above
// DialOptions.HighWaterMark (polling, since no event says it drained), so
// at most HighWaterMark plus one message is buffered.
//
// Receiving: a browser cannot pause a WebSocket, so messages are queued
// until Read takes them, up to DialOptions.QueueMessages and QueueBytes.
// The policy when a slow reader lets the queue fill: the connection is
// closed with StatusTooSlow (4013), the messages already queued are still
// returned by Read, and then Read returns ErrReadQueueFull. Memory is
// never unbounded. A message over DialOptions.ReadLimit closes the
// connection with StatusTooBig (4009) and Read returns ErrReadLimit.
//
// # Crossing into Go
//
// With the page's helper script comet_batch.js (in public/, beside
// wasm_exec.js) messages reach Go through a batch (package
// internal/jsutil): a lone message wakes Go at once, and a burst is
// queued on the JavaScript side and handed over in one call, its text
// one copy for the whole burst; its text messages share a buffer (each
// with its capacity cut at its length), so keeping one message keeps its
// batch's bytes. Without the script each message calls into Go on its
// own and is read with Get (the same for a ping-pong, slower for a
// burst). Write copies text into one Uint8Array the Conn keeps, which
// the script's sendText decodes into the string it sends (without the
// script, syscall/js makes the string from the Go bytes: a js.Value and
// its finalizer per message), reads bufferedAmount only when the bytes
// sent since it last did could pass the high-water mark, and in browsers
// reuses one Uint8Array for binary messages of the same size (the
// browser copies what send is given).
//
// # Callbacks
//
// The event listeners only copy and queue; all waiting happens in the
// goroutines that call Read, Write, Close and Dial, which must not be
// js.FuncOf callbacks. Every listener is released when the connection
// closes, when CloseNow returns, or when a Dial fails.
package ws
