//go:build !js

// Package redisproc runs a private redis-server on a free loopback port, for
// tests and benchmarks that need a real Redis: Start runs one in its own
// temporary directory, Server.Kill, Server.Stop and Server.Restart end and
// revive it by its PID, and Server.Close removes the directory. ForTest does
// the same inside a test, skipping it when redis-server is not installed (a
// failure under CI=true).
//
// # Caveats
//
// The port is picked free, then handed to redis-server: another process may
// take it in between (Start then retries on another port). Restart reuses
// the port, so a reader's address stays valid.
package redisproc
