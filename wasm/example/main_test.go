//go:build js && wasm

package main

import (
	"context"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// TestExampleRuns builds the example (go test compiles it) and runs it
// against the real server.
func TestExampleRuns(t *testing.T) {
	testenv.BrowserOnly(t, "the example posts a window message; node has no window")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, testenv.ServerURL(t)); err != nil {
		t.Fatal(err)
	}
}
