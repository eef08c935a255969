//go:build js && wasm

// Package testenv tells a GOOS=js test where it runs and where the real
// comet server is. The harness (server/wasmrun) starts the server and sets:
//
//	COMET_SERVER   the page's origin, e.g. http://127.0.0.1:41234
//	COMET_SERVER2  the second origin, serving the same API
//	COMET_FAULTY_SERVER  a fault proxy in front of COMET_SERVER
//	COMET_FAULT_STATS    the fault proxy's counts, as JSON
//	COMET_ENV      "node" or "chromium"
//	COMET_INTEROP_HTTPBIN, _WS, _SSE, _REFUSED  servers comet did not
//	               write, and a port nothing listens on (see Interop)
//
// Tests run without the harness fail at once, saying how to run them.
package testenv

import (
	"os"
	"strconv"
	"syscall/js"
	"testing"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// Env returns "node" or "chromium".
func Env() string { return os.Getenv("COMET_ENV") }

// InBrowser reports whether the test runs in Chromium.
func InBrowser() bool { return Env() == "chromium" }

// ServerURL returns the page's origin of the real server.
func ServerURL(t testing.TB) string { return mustEnv(t, "COMET_SERVER") }

// SecondURL returns the second origin of the real server.
func SecondURL(t testing.TB) string { return mustEnv(t, "COMET_SERVER2") }

// FaultyServerURL returns the fault proxy in front of the page's origin
// (COMET_FAULTY_SERVER): it drops, delays, truncates and resets
// connections at random. It is another origin; the server trusts it.
func FaultyServerURL(t testing.TB) string { return mustEnv(t, "COMET_FAULTY_SERVER") }

// FaultStatsURL returns a URL answering the fault proxy's counts as JSON:
// {"conns","dropped","reset","truncated","delays","cuts"}.
func FaultStatsURL(t testing.TB) string { return mustEnv(t, "COMET_FAULT_STATS") }

// Interop returns the URL of a server comet did not write, started by
// server/wasmrun (its interop.go says what each serves): "HTTPBIN"
// (go-httpbin), "WS" (gorilla/websocket, a ws: URL), "SSE" (go-sse behind
// a plain "*" CORS policy that answers no preflight), or "REFUSED" (a
// port nothing listens on). It skips t, saying why, when the harness did
// not set COMET_INTEROP_<name>.
func Interop(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv("COMET_INTEROP_" + name)
	if v == "" {
		t.Skipf("COMET_INTEROP_%s is not set: the interop servers are started by server/wasmrun (./build.sh wasmtest)", name)
	}
	return v
}

func mustEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run GOOS=js tests through ./build.sh test (server/wasmrun starts the server)", name)
	}
	return v
}

// BrowserOnly skips t outside Chromium, saying why the node polyfills
// cannot run it.
func BrowserOnly(t testing.TB, why string) {
	t.Helper()
	if !InBrowser() {
		t.Skipf("Chromium only: %s", why)
	}
}

// NodeOnly skips t outside node, saying why.
func NodeOnly(t testing.TB, why string) {
	t.Helper()
	if InBrowser() {
		t.Skipf("node only: %s", why)
	}
}

// Refs is a count of what the Go side holds on the JavaScript side.
type Refs struct {
	Funcs int // js.Funcs made by jsutil.FuncOf and not released
	Refs  int // JS values referenced from Go (after GC); -1 if unknown
}

// MeasureRefs counts live funcs and references.
func MeasureRefs() Refs {
	return Refs{Funcs: jsutil.LiveFuncs(), Refs: jsutil.LiveRefs()}
}

// CheckRefs fails t unless the counts are back at base: funcs exactly, and
// references within slack (a few temporaries may still await finalizers).
func CheckRefs(t testing.TB, base Refs, slack int) {
	t.Helper()
	now := MeasureRefs()
	if now.Funcs != base.Funcs {
		t.Errorf("live js.Funcs: %d, want %d (baseline): a listener or callback was not released", now.Funcs, base.Funcs)
	}
	if base.Refs < 0 || now.Refs < 0 {
		t.Errorf("cannot count JS references: globalThis.__cometGo is not set by the harness")
		return
	}
	if now.Refs > base.Refs+slack {
		t.Errorf("JS references held by Go: %d, baseline %d (+%d allowed): references leak", now.Refs, base.Refs, slack)
	}
}

// RemoveHelper removes the page's helper script (globalThis.cometBatch,
// public/comet_batch.js) so the packages take their paths without it, and
// returns the func that puts it back. Not for parallel tests.
func RemoveHelper() (restore func()) {
	h := js.Global().Get("cometBatch")
	js.Global().Delete("cometBatch")
	return func() { js.Global().Set("cometBatch", h) }
}

// PublishBody is the body of a POST /realtime/publish of n messages to
// topic in one batch, whose data are the numbers first..first+n-1.
func PublishBody(topic string, first, n int) string {
	b := []byte(`{"topic":"` + topic + `","messages":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"data":`...)
		b = strconv.AppendInt(b, int64(first+i), 10)
		b = append(b, '}')
	}
	return string(append(b, "]}"...))
}
