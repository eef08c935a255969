//go:build js && wasm

// Command coderws is the size comparison for coder/websocket's wasm
// client: dial, write, read, close.
package main

import (
	"context"
	"syscall/js"

	"github.com/coder/websocket"
)

func main() {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "ws://"+js.Global().Get("location").Get("host").String()+"/ws/echo", nil)
	if err != nil {
		js.Global().Get("console").Call("log", err.Error())
		return
	}
	defer c.Close(websocket.StatusNormalClosure, "")
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		return
	}
	_, b, err := c.Read(ctx)
	js.Global().Get("console").Call("log", len(b), err != nil)
}
