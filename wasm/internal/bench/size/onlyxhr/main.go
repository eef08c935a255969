//go:build js && wasm

// Command onlyxhr is the size program for wasm/xhr: one GET, body read.
package main

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/xhr"
)

func main() {
	resp, err := xhr.Get(context.Background(), "/api/text")
	if err != nil {
		js.Global().Get("console").Call("log", err.Error())
		return
	}
	js.Global().Get("console").Call("log", resp.Status, resp.Text())
}
