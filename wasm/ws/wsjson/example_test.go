//go:build js && wasm

package wsjson_test

import (
	"context"

	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/ws/wsjson"
)

func Example() {
	ctx := context.Background()
	// The demo server's realtime session: JSON commands in, JSON frames
	// (and message lines) out.
	c, err := ws.Dial(ctx, "ws://127.0.0.1:8080/realtime/session/ws", nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	var hello struct {
		Op string `json:"op"` // "hello"
	}
	if err := wsjson.Read(ctx, c, &hello); err != nil {
		return
	}
	wsjson.Write(ctx, c, map[string]any{"op": "sub", "t": 1, "topic": "chat:lobby", "presence": true})
	var answer struct {
		Op    string `json:"op"` // "sub", or "err" with a reason
		Error string `json:"error"`
	}
	if err := wsjson.Read(ctx, c, &answer); err == nil {
		println(answer.Op, answer.Error)
	}
}
