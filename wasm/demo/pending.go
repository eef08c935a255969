//go:build js && wasm

package main

// Sections whose comet package has not landed yet say so; each moves to
// its own file when its package exists.
