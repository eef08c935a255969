//go:build !js

// Package redis is a broker.Broker on Redis 7 or later, for comet servers
// that run on many nodes or must keep their history across restarts.
//
// (Design, measurements and durability: see below.)
package redis
