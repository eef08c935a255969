//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
	"github.com/cometwasm/comet/wasm/sse"
)

func init() { cases["sse"] = sseCase }

// sseCase opens p.URL Repeat times and reads Count events of type
// "message" from each; Ms sums the time from the first to the last event.
func sseCase(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	clock := benchjs.NewClock()
	var res benchjs.Result
	for r := 0; r < max(1, p.Repeat); r++ {
		es, err := sse.Open(ctx, p.URL, &sse.Options{FlushEvent: wire.SSEFlush}) // the URL asks for flush=1
		if err != nil {
			return res, err
		}
		// The clock starts when the browser dispatches the first event
		// (its timeStamp), as in the page's JS case: starting it when the
		// first batch reaches Go would leave out however much of the
		// replay that batch already held.
		var first float64
		origin := js.Global().Get("performance").Get("timeOrigin").Float()
		mark := js.FuncOf(func(_ js.Value, args []js.Value) any {
			first = origin + args[0].Get("timeStamp").Float()
			return nil
		})
		opt := js.Global().Get("Object").New()
		opt.Set("once", true)
		es.JSValue().Call("addEventListener", "message", mark, opt)
		js.Global().Set("benchReadyFlag", true)
		got := 0
		var t0 float64
		for got < p.Count {
			ev, err := es.Next(ctx)
			if err != nil {
				es.Close()
				mark.Release()
				return res, err
			}
			if ev.Type != "message" {
				continue
			}
			if got == 0 {
				t0 = first
				if t0 == 0 {
					t0 = clock.NowMs()
				}
			}
			got++
			res.Bytes += int64(len(ev.Data))
		}
		res.Ms += clock.Since(t0)
		res.N += got
		es.Close()
		mark.Release()
	}
	return res, nil
}
