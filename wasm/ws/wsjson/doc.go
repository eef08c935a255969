//go:build js && wasm

// Package wsjson reads and writes JSON text messages on a ws.Conn, like
// github.com/coder/websocket/wsjson.
//
// Use Read to decode the next message into a value and Write to send a
// value as one text message. A binary message, or one that is not valid
// JSON for v, is an error; the connection stays open.
package wsjson
