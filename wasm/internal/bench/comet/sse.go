//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

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
		es, err := sse.Open(ctx, p.URL, nil)
		if err != nil {
			return res, err
		}
		js.Global().Set("benchReadyFlag", true)
		got := 0
		var t0 float64
		for got < p.Count {
			ev, err := es.Next(ctx)
			if err != nil {
				es.Close()
				return res, err
			}
			if ev.Type != "message" {
				continue
			}
			if got == 0 {
				t0 = clock.NowMs()
			}
			got++
			res.Bytes += int64(len(ev.Data))
		}
		res.Ms += clock.Since(t0)
		res.N += got
		es.Close()
	}
	return res, nil
}
