//go:build !js

package main

import (
	"context"
	_ "embed"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// locate returns "file:line" of the first line of file (relative to the
// module root) that contains snippet, or says the snippet is gone (fixed,
// or moved), so the findings stay true as the code changes.
func (b *bench) locate(file, snippet string) string {
	data, err := os.ReadFile(filepath.Join(b.root, file))
	if err != nil {
		return "`" + file + "` (missing)"
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, snippet) {
			return "`" + file + ":" + strconv.Itoa(i+1) + "`"
		}
	}
	return "`" + file + "` (the line quoted is gone: fixed or moved)"
}

// findingsText is the findings, with a %s per located line.
//
//go:embed findings.md
var findingsText string

// findings writes the profiling findings and the proposed fixes, with
// the file:line of each culprit as of this run, and the effect measured
// when a fix was tried on a scratch copy of the tree (outside the repo).
func (b *bench) findings(ctx context.Context, sec *section) error {
	sec.printf(findingsText,
		b.locate("wasm/sse/sse.go", `jsutil.NewBatch(es`),
		b.locate("wasm/internal/jsutil/batch.go", `func (b *Batch) flushLocked`),
		b.locate("wasm/internal/jsutil/batch.go", `h := js.Global().Get("cometBatch")`),
		b.locate("wasm/ws/conn.go", `jsutil.NewBatch(sock`),
		b.locate("wasm/ws/conn.go", `c.buffered = c.sock.Get("bufferedAmount").Int()`),
		b.locate("wasm/xhr/body.go", `type Encoder interface`),
		b.locate("wasm/xhr/xhrjson/xhrjson.go", `func Decode(`),
		b.locate("server/ws.go", `b, err := json.Marshal(m)`),
		b.locate("server/sse.go", `func sseFrame(`),
		b.locate("server/server.go", `"Referrer-Policy"`),
		b.locate("wasm/comet/transports.go", `continue // maybe more: ask again at once`),
		b.locate("server/internal/httpx/idlews.go", `func (ws *IdleWS) wait()`),
		b.locate("server/internal/httpx/readable.go", `func WaitReadable(`),
		b.locate("server/internal/httpx/idlews.go", `func (ws *IdleWS) Write(`),
		b.locate("server/realtime/session.go", `func (s *session) drain(`),
		b.locate("server/internal/httpx/hijack.go", `func HijackStream(`),
		b.locate("server/realtime/feed.go", `func (f *callbackFeed) drain()`),
		b.locate("server/realtime/session.go", `limit := min(max(s.taken, firstFrame), maxFrame)`),
		b.locate("server/realtime/session.go", `func (s *session) flushLocked()`),
		b.locate("server/internal/httpx/idlews.go", `func (ws *IdleWS) Write(`),
		b.locate("server/internal/httpx/deadline.go", `func (d *writeDeadline) before(`),
		b.locate("server/realtime/feed.go", `func startCallbackFeed(`),
		b.locate("wasm/xhr/xhr.go", `func (c *call) listenEnd`),
		b.locate("wasm/xhr/xhr.go", `x.Call("getAllResponseHeaders")`),
	)
	return nil
}
