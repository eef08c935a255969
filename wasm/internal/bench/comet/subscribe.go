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

// transport returns comet's transport by name.
func transport(p benchjs.Params) (comet.Transport, error) {
	switch p.Transport {
	case "ws":
		return comet.WS{}, nil
	case "sse":
		return comet.SSE{}, nil
	case "stream":
		return comet.Stream{}, nil
	case "longpoll":
		return comet.LongPoll{}, nil
	case "poll":
		return comet.Poll{Interval: time.Duration(p.Interval) * time.Millisecond}, nil
	}
	return nil, errors.New("no transport " + p.Transport)
}

// subscribe follows p.Topic with comet.SubscribeFeed (the single-topic
// endpoints) over one transport: see follow.
func subscribe(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	return follow(ctx, p, func(ctx context.Context, t comet.Transport, from comet.Cursor) (*comet.Subscription, func(), error) {
		sub, err := comet.SubscribeFeed(ctx, p.Topic, &comet.Options{URL: p.Base, Transports: []comet.Transport{t}, From: from})
		if err != nil {
			return nil, nil, err
		}
		return sub, sub.Close, nil
	})
}

// follow opens a subscription to p.Topic over p.Transport from p.Cursor
// with open (which also returns how to end it), tells the page it is set
// up, then reads it with Next (the application's path) until p.Count
// "message" envelopes arrived (or, with Count 0, for Duration ms),
// recording publish → handler latency from data.t.
func follow(ctx context.Context, p benchjs.Params, open func(context.Context, comet.Transport, comet.Cursor) (*comet.Subscription, func(), error)) (benchjs.Result, error) {
	t, err := transport(p)
	if err != nil {
		return benchjs.Result{}, err
	}
	from, err := comet.ParseCursor(p.Cursor)
	if err != nil {
		return benchjs.Result{}, err
	}
	clock := benchjs.NewClock()
	if p.Count == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(p.Duration)*time.Millisecond)
		defer cancel()
	}
	t0 := clock.NowMs()
	sub, end, err := open(ctx, t, from)
	if err != nil {
		return benchjs.Result{}, err
	}
	defer end()
	var res benchjs.Result
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
