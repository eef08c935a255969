//go:build js && wasm

// Package xhrjson sends and decodes JSON bodies with package xhr, like
// package wsjson does for WebSocket messages.
//
// Use Body as a Request.Body to send a value encoded with encoding/json
// (Content-Type application/json unless the request sets one), and Decode
// to decode a Response's body into a value. MDN: https://developer.mozilla.org/docs/Web/API/XMLHttpRequest/send
//
// # Size
//
// encoding/json, with reflect and fmt, adds about 140 KB of wasm even to
// a program that only imports it, which is why package xhr itself has no
// JSON API: a program that never imports xhrjson does not pay for it.
package xhrjson
