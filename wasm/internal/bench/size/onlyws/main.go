//go:build js && wasm

// Command onlyws is the size program for wasm/ws: dial, write, read, close.
package main

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/ws"
)

func main() {
	ctx := context.Background()
	c, err := ws.Dial(ctx, "ws://"+js.Global().Get("location").Get("host").String()+"/ws/echo", nil)
	if err != nil {
		js.Global().Get("console").Call("log", err.Error())
		return
	}
	defer c.Close(ws.StatusNormalClosure, "")
	if err := c.Write(ctx, ws.MessageText, []byte("hi")); err != nil {
		return
	}
	_, b, err := c.Read(ctx)
	js.Global().Get("console").Call("log", len(b), err != nil)
}
