//go:build js && wasm

package main

import (
	"context"

	"github.com/cometwasm/comet/wasm/comet"
	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
)

func init() { cases["session"] = session }

// session is subscribe over a session: comet.Connect with the one
// transport, then Client.Subscribe (the wire of issue 12: a topic number
// and the data per message). See follow.
func session(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	return follow(ctx, p, func(ctx context.Context, t comet.Transport, from comet.Cursor) (*comet.Subscription, func(), error) {
		client, err := comet.Connect(ctx, &comet.Options{URL: p.Base, Transports: []comet.Transport{t}})
		if err != nil {
			return nil, nil, err
		}
		sub, err := client.Subscribe(ctx, p.Topic, &comet.SubscribeOptions{From: from})
		if err != nil {
			client.Close()
			return nil, nil, err
		}
		return sub, func() { sub.Close(); client.Close() }, nil
	})
}

func init() { cases["shared"] = shared }

// shared is subscribe with comet.Subscribe, what an application calls: a
// session on the page's shared Client over the one transport. See follow.
func shared(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	return follow(ctx, p, func(ctx context.Context, t comet.Transport, from comet.Cursor) (*comet.Subscription, func(), error) {
		sub, err := comet.Subscribe(ctx, p.Topic, &comet.Options{URL: p.Base, Transports: []comet.Transport{t}, From: from})
		if err != nil {
			return nil, nil, err
		}
		return sub, sub.Close, nil
	})
}
