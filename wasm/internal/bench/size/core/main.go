//go:build js && wasm

// Command core is the size program for the three core packages together:
// wasm/xhr, wasm/sse and wasm/ws, each used as in its own size program.
package main

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/sse"
	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/xhr"
)

func main() {
	ctx := context.Background()
	log := func(args ...any) { js.Global().Get("console").Call("log", args...) }

	if resp, err := xhr.Get(ctx, "/api/text"); err != nil {
		log(err.Error())
	} else {
		log(resp.Status, resp.Text())
	}

	if es, err := sse.Open(ctx, "/realtime/countdown", nil); err != nil {
		log(err.Error())
	} else {
		ev, err := es.Next(ctx)
		log(ev.Data, err != nil)
		es.Close()
	}

	c, err := ws.Dial(ctx, "ws://"+js.Global().Get("location").Get("host").String()+"/ws/echo", nil)
	if err != nil {
		log(err.Error())
		return
	}
	defer c.Close(ws.StatusNormalClosure, "")
	if err := c.Write(ctx, ws.MessageText, []byte("hi")); err != nil {
		return
	}
	_, b, err := c.Read(ctx)
	log(len(b), err != nil)
}
