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

func init() { cases["session"] = session }

// session is subscribe over a session: comet.Connect with the one
// transport, then Client.Subscribe from p.Cursor (the wire of issue 12:
// a topic number and the data per message).
func session(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	t, err := transport(p)
	if err != nil {
		return benchjs.Result{}, err
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
	client, err := comet.Connect(ctx, &comet.Options{URL: p.Base, Transports: []comet.Transport{t}})
	if err != nil {
		return res, err
	}
	defer client.Close()
	sub, err := client.Subscribe(ctx, p.Topic, &comet.SubscribeOptions{From: from})
	if err != nil {
		return res, err
	}
	defer sub.Close()
	js.Global().Set("benchReadyFlag", true)
	for p.Count == 0 || res.N < p.Count {
		m, err := sub.Next(ctx)
		if err != nil {
			if p.Count == 0 && errors.Is(err, context.DeadlineExceeded) {
				break
			}
			return res, err
		}
		if m.Type != "message" {
			continue
		}
		if lat, ok := clock.LatencyMs(m.Data); ok {
			res.Lat = append(res.Lat, lat)
		}
		res.N++
		res.Bytes += int64(len(m.Data))
	}
	res.Ms = clock.Since(t0)
	return res, nil
}
