//go:build js && wasm

package wsjson_test

import (
	"context"

	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/ws/wsjson"
)

func Example() {
	ctx := context.Background()
	c, err := ws.Dial(ctx, "ws://127.0.0.1:8080/ws/chat", nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	wsjson.Write(ctx, c, map[string]string{"type": "login", "name": "kgh", "userid": "kgh@gmail.com"})
	var msg struct {
		Type string `json:"type"`
	}
	if err := wsjson.Read(ctx, c, &msg); err == nil {
		println(msg.Type)
	}
}
