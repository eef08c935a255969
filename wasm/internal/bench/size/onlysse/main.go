//go:build js && wasm

// Command onlysse is the size program for wasm/sse: open, read one event,
// close.
package main

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/sse"
)

func main() {
	ctx := context.Background()
	es, err := sse.Open(ctx, "/realtime/countdown", nil)
	if err != nil {
		js.Global().Get("console").Call("log", err.Error())
		return
	}
	defer es.Close()
	ev, err := es.Next(ctx)
	js.Global().Get("console").Call("log", ev.Data, err != nil)
}
