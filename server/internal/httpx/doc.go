//go:build !js

// Package httpx is the HTTP plumbing that the realtime library
// (server/realtime) and the demo server (server) share: JSON answers and
// errors, the origin policy and CORS, the per-request guard (body limits
// and deadlines), Server-Sent Events framing, hijacked chunked streams
// (HijackStream) and WebSocket accept and heartbeat.
package httpx
