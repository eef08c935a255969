//go:build !js

// Package memory is the embedded, in-process Broker: comet's default when
// no Redis is configured. Every topic is a bounded ring of messages in this
// process's memory.
//
// Use New to make one; it implements broker.Broker and broker.Resetter.
//
// # Restarts
//
// Nothing survives the process: after a restart every topic starts a new
// epoch, so a client that resumes with a cursor from before gets an explicit
// "epoch" gap (never a silent loss), and a message whose publish had
// answered but that no client had read yet is gone. Two processes share
// nothing. For history that survives restarts and is shared by many nodes,
// use package redis.
package memory
