//go:build js && wasm

// Package upload sends a File or Blob to comet's server in chunks that
// survive failures (HPBN: Content-Range chunks; javascript.info: ask the
// server for its offset and resume).
//
// Use New to hash the file (SHA-256) and create the upload, then Send. A
// chunk is a PUT with "Content-Range: bytes start-end/total"; after a
// failure Send backs off, asks the server for its offset (GET) and goes
// on from there; at the end the server checks the SHA-256. Cancelling the
// ctx stops Send; call Send again, or Resume with the ID, to continue.
// MDN: https://developer.mozilla.org/docs/Web/API/Blob/slice
//
// # Memory
//
// Chunks are slices of the Blob sent by the browser: no copy passes
// through Go, except once to compute the SHA-256. (Under node, whose XHR
// polyfill cannot send a Blob, each chunk is copied.)
//
// # Server
//
// POST /upload/ {size, name} → 201 {id}; GET /upload/{id} → {offset,
// size, done}; PUT /upload/{id} (409 on a wrong offset, 413 past the
// size); POST /upload/{id}/finish {sha256} (422 on a mismatch);
// GET /upload/ lists finished uploads.
package upload
