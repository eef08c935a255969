//go:build js && wasm

package faulttest

import (
	"errors"
	"syscall/js"
	"testing"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// TestPagePolicy checks the server's page policy where it matters, in the
// browser: this very test runs as wasm ('wasm-unsafe-eval' lets it
// compile), while eval and inline script are refused.
func TestPagePolicy(t *testing.T) {
	testenv.BrowserOnly(t, "node enforces no Content-Security-Policy")
	err := jsutil.Try(func() { js.Global().Call("eval", "1 + 1") })
	var je *jsutil.Error
	if !errors.As(err, &je) || je.Name != "EvalError" {
		t.Errorf("eval under the page policy: %v, want an EvalError", err)
	}
	doc := js.Global().Get("document")
	script := doc.Call("createElement", "script")
	script.Set("textContent", "globalThis.__cometInlineRan = true")
	doc.Get("body").Call("appendChild", script)
	defer script.Call("remove")
	if js.Global().Get("__cometInlineRan").Truthy() {
		t.Error("an inline script ran under the page policy")
	}
}
