//go:build js && wasm

// Command coder runs the WebSocket cases with coder/websocket's wasm
// client, for comparison with comet's wasm/ws and plain JavaScript.
package main

import (
	"context"

	"github.com/coder/websocket"

	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
)

func main() {
	benchjs.Serve("coder", map[string]benchjs.Case{"wsEcho": wsEcho})
}

func wsEcho(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	clock := benchjs.NewClock()
	c, _, err := websocket.Dial(ctx, p.URL, nil)
	if err != nil {
		return benchjs.Result{}, err
	}
	// Not CloseNow: its code 1001 throws in browsers.
	defer c.Close(websocket.StatusNormalClosure, "")
	c.SetReadLimit(1 << 24)
	typ := websocket.MessageText
	if p.Binary {
		typ = websocket.MessageBinary
	}
	msg := benchjs.Payload(p.Size)
	var res benchjs.Result
	t0 := clock.NowMs()
	sent := 0
	for ; sent < min(p.Inflight, p.Count); sent++ {
		if err := c.Write(ctx, typ, msg); err != nil {
			return res, err
		}
	}
	for res.N < p.Count {
		_, b, err := c.Read(ctx)
		if err != nil {
			return res, err
		}
		res.N++
		res.Bytes += int64(len(b))
		if sent < p.Count {
			if err := c.Write(ctx, typ, msg); err != nil {
				return res, err
			}
			sent++
		}
	}
	res.Ms = clock.Since(t0)
	return res, nil
}
