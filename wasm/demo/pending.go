//go:build js && wasm

package main

// Sections whose comet package has not landed yet say so; each moves to
// its own file when its package exists.

func ajaxSection(config) *card {
	c := newCard("ajax", "Ajax lab", "Any request through wasm/xhr: readyState timeline, headers, body, progress.")
	c.pending("wasm/xhr")
	return c
}

func seedsSection(config) *card {
	c := newCard("seeds", "The seed examples, one click each", "The Ajax examples from the course notes, in Go.")
	c.pending("wasm/xhr")
	return c
}

func corsSection(config) *card {
	c := newCard("cors", "Cross-origin", "The same request to the second origin: allowed, denied, preflighted, credentialed.")
	c.pending("wasm/xhr")
	return c
}

func jsonpSection(config) *card {
	c := newCard("jsonp", "JSONP and image ping", "Cross-domain tricks from before CORS, with a failing JSONP detected by timeout.")
	c.pending("wasm/xhr")
	return c
}

func uploadSection(config) *card {
	c := newCard("upload", "Resumable upload", "A file in chunks, with pause, resume and a dropped connection.")
	c.pending("wasm/upload")
	return c
}

func raceSection(config) *card {
	c := newCard("race", "Comet race", "One publisher, five subscribers: polling, long polling, streaming, SSE, WebSocket.")
	c.pending("wasm/comet")
	return c
}
