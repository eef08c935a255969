//go:build js && wasm

package ws_test

import (
	"context"
	"time"

	"github.com/cometwasm/comet/wasm/ws"
)

func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws://127.0.0.1:8080/ws/echo", &ws.DialOptions{Subprotocols: []string{"echo.v1"}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	if err := c.Write(ctx, ws.MessageText, []byte("hello")); err != nil {
		return
	}
	typ, p, err := c.Read(ctx)
	if err != nil {
		if ws.CloseStatus(err) == ws.StatusKicked {
			println("kicked")
		}
		return
	}
	println(typ.String(), string(p))
	c.Close(ws.StatusNormalClosure, "bye")
}
