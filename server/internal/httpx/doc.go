//go:build !js

// Package httpx is the HTTP plumbing that the realtime library
// (server/realtime) and the demo server (server) share: JSON answers and
// errors, the origin policy and CORS, the per-request guard (body limits
// and deadlines), Server-Sent Events framing, hijacked chunked streams
// (HijackStream) and WebSocket accept and heartbeat. IdleWS serves a
// WebSocket whose idle connection costs one goroutine parked in a
// shallow frame (WaitReadable), with no read or write buffer of its own
// between messages.
package httpx
