//go:build js && wasm

package main

// Sections whose comet package has not landed yet say so; each moves to
// its own file when its package exists.

func uploadSection(config) *card {
	c := newCard("upload", "Resumable upload", "A file in chunks, with pause, resume and a dropped connection.")
	c.pending("wasm/upload")
	return c
}
