//go:build js && wasm

package main

import (
	"context"
	"errors"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/wasm/comet"
	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
)

func init() { cases["subscribe"] = subscribe }

// transports are comet's transports by name.
var transports = map[string]func(p benchjs.Params) comet.Transport{
	"ws": func(benchjs.Params) comet.Transport { return comet.WS{} },
}

var errEnough = errors.New("bench: enough messages")

// subscribe follows p.Topic over one comet transport from p.Cursor until
// Count "message" envelopes arrived (or, with Count 0, for Duration ms),
// recording publish → handler latency from data.t.
func subscribe(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	mk, ok := transports[p.Transport]
	if !ok {
		return benchjs.Result{}, errors.New("comet has no transport " + p.Transport + " yet")
	}
	from, err := comet.ParseCursor(p.Cursor)
	if err != nil {
		return benchjs.Result{}, err
	}
	clock := benchjs.NewClock()
	var res benchjs.Result
	if p.Count == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(p.Duration)*time.Millisecond)
		defer cancel()
	}
	t0 := clock.NowMs()
	js.Global().Set("benchReadyFlag", true)
	err = mk(p).Run(ctx, comet.Feed{
		URL:   p.Base,
		Topic: p.Topic,
		From:  from,
		Deliver: func(m comet.Message) error {
			if m.Type != "message" {
				return nil
			}
			if lat, ok := clock.LatencyMs(m.Data); ok {
				res.Lat = append(res.Lat, lat)
			}
			res.N++
			res.Bytes += int64(len(m.Data))
			if p.Count > 0 && res.N >= p.Count {
				return errEnough
			}
			return nil
		},
	})
	res.Ms = clock.Since(t0)
	if errors.Is(err, errEnough) || p.Count == 0 && errors.Is(err, context.DeadlineExceeded) {
		return res, nil
	}
	return res, err
}
