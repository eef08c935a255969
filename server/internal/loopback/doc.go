//go:build !js

// Package loopback finds free ports on 127.0.0.1 for the services that
// tests and benchmarks start (redis-server, nginx, comet nodes,
// Centrifugo). Use FreePort.
package loopback
