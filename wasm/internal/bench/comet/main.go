//go:build js && wasm

// Command comet runs the browser benchmark cases with comet's packages
// (wasm/ws, wasm/xhr, wasm/sse, wasm/comet); the page runs the same cases
// in plain JavaScript beside it. See server/bench.
package main

import (
	"context"

	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
	"github.com/cometwasm/comet/wasm/ws"
)

// cases are the benchmark cases; each file adds its own in init, so the
// program builds with whichever comet packages exist.
var cases = map[string]benchjs.Case{}

func init() { cases["wsEcho"] = wsEcho }

func main() { benchjs.Serve("comet", cases) }

// wsEcho is echo ping-pong with Inflight messages outstanding.
func wsEcho(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	clock := benchjs.NewClock()
	c, err := ws.Dial(ctx, p.URL, nil)
	if err != nil {
		return benchjs.Result{}, err
	}
	defer c.Close(ws.StatusNormalClosure, "")
	typ := ws.MessageText
	if p.Binary {
		typ = ws.MessageBinary
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
