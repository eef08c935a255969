//go:build !js

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// wireCost is what one transport costs per delivered message, counted at
// the proxy in front of the server.
type wireCost struct {
	msgs             int
	up, down         float64 // bytes per message (per request for empty polls)
	reqs, conns      float64 // per message
	headers          []float64
	overhead         float64 // down bytes per message beyond the data payload
	impl             string
	payload          float64
	requestsMeasured int64
}

func (b *bench) wire(ctx context.Context, sec *section) error {
	e, err := b.env(ctx)
	if err != nil {
		return err
	}
	if err := e.open(ctx, e.proxy.url()); err != nil {
		return err
	}
	impls := []string{"comet", "js"}
	const msgs = 100
	payload := float64(len(mustJSON(benchData{T: time.Now().UnixNano(), I: 50})))
	sec.printf("\nThe page is loaded from a counting TCP proxy in front of the server (the server allows its origin), so every byte of every connection is counted in both directions, with every HTTP request and the header block of every response. The host publishes %d messages (data `{\"t\":…,\"i\":…}`, %.0f B of JSON) 20 ms apart (100 ms for polling, the poll interval) and counts from just before the first publish to the last delivery. Connection set-up before that is excluded. The Go client is comet's (`wasm/comet` transports) where it exists; plain JS (same endpoints) otherwise, and beside it for reference. The rows named \"session\" follow the topic over a session (`comet.Connect`, then `Client.Subscribe`; the wire of `server/wire/session.go`: a topic number, a space and the data per message); the others use the single-topic endpoints with their self-describing envelope.\n", msgs, payload)

	type scenario struct {
		name, transport string
		count           int
		gap             time.Duration
		session         bool // over a session (comet.Connect): the Go client only
	}
	scenarios := []scenario{
		{"polling, empty (100 ms interval)", "poll", 0, 0, false},
		{"polling, 1 message per poll", "poll", msgs, 100 * time.Millisecond, false},
		{"long polling", "longpoll", msgs, 20 * time.Millisecond, false},
		{"HTTP streaming", "stream", msgs, 20 * time.Millisecond, false},
		{"SSE", "sse", msgs, 20 * time.Millisecond, false},
		{"WebSocket", "ws", msgs, 20 * time.Millisecond, false},
		{"SSE session", "sse", msgs, 20 * time.Millisecond, true},
		{"WebSocket session", "ws", msgs, 20 * time.Millisecond, true},
	}
	costs := map[string]wireCost{}
	samples := map[string]respHead{} // one response header block per scenario
	var rows [][]string
	for i, sc := range scenarios {
		var got *wireCost
		for _, impl := range impls {
			if !e.has(impl) || sc.session && impl != "comet" {
				continue
			}
			var before counts
			spec := feedSpec{
				impl: impl, transport: sc.transport, topic: fmt.Sprintf("wire-%d-%s", i, impl), origin: e.proxy.url(),
				count: sc.count, gap: sc.gap, interval: 100, duration: 2 * time.Second, session: sc.session,
			}
			if sc.count == 0 {
				before = e.proxy.snapshot()
			} else {
				spec.started = func() { before = e.proxy.snapshot() }
			}
			r, err := b.feed(ctx, e, spec)
			after := e.proxy.snapshot()
			if err != nil {
				logf("wire %s %s: %v", sc.name, impl, err)
				rows = append(rows, []string{sc.name, impl, "failed: " + firstErr([]string{err.Error()}), "", "", "", "", ""})
				continue
			}
			per := float64(r.N)
			if sc.count == 0 { // per poll, as the proxy counted them
				per = float64(max(1, after.requests-before.requests))
				r.N = int(per)
			}
			c := wireCost{msgs: r.N, impl: implName(impl), payload: payload}
			c.up = float64(after.up-before.up) / per
			c.down = float64(after.down-before.down) / per
			c.reqs = float64(after.requests-before.requests) / per
			c.conns = float64(after.conns-before.conns) / per
			c.requestsMeasured = after.requests - before.requests
			for _, h := range e.proxy.headsSince(before) {
				if strings.HasPrefix(h.path, "/realtime/") && !strings.HasPrefix(h.path, "/realtime/session/cmd") {
					c.headers = append(c.headers, float64(h.bytes))
					if _, ok := samples[sc.name]; !ok || h.status == 200 && samples[sc.name].status != 200 {
						samples[sc.name] = h
					}
				}
			}
			if sc.count > 0 {
				c.overhead = c.down - payload
			}
			hdr := "–"
			if len(c.headers) > 0 {
				hdr = fmt.Sprintf("%.0f", median(c.headers))
			}
			unit := "per message"
			if sc.count == 0 {
				unit = fmt.Sprintf("per poll (%d polls)", r.N)
			}
			rows = append(rows, []string{sc.name, c.impl, unit, fmt.Sprintf("%.0f", c.down), fmt.Sprintf("%.0f", c.up), f2(c.reqs), hdr, overheadText(sc.count, c)})
			if got == nil {
				got = &c
			}
		}
		if got != nil {
			costs[sc.name] = *got
		}
	}
	sec.table([]string{"transport", "client", "unit", "bytes down", "bytes up", "requests", "response header bytes (median)", "down bytes beyond the data"}, rows)

	sec.printf("\n<details><summary>Response header blocks (one per transport, as sent by the server)</summary>\n")
	for _, sc := range scenarios {
		h, ok := samples[sc.name]
		if !ok {
			continue
		}
		sec.printf("\n%s, `%s`, %d B:\n\n```\nHTTP/1.1 %d\n", sc.name, h.path, h.bytes, h.status)
		for _, k := range slices.Sorted(maps.Keys(h.header)) {
			for _, v := range h.header[k] {
				sec.printf("%s: %s\n", k, v)
			}
		}
		sec.printf("```\n")
	}
	sec.printf("\n</details>\n")

	// Targets.
	// The targets are the session wire's (issue 12); the single-topic
	// endpoints, with their self-describing envelope, are in the table.
	if c, ok := costs["WebSocket session"]; ok {
		single := ""
		if w, ok := costs["WebSocket"]; ok {
			single = fmt.Sprintf("; the single-topic `ws`: %.0f B", w.overhead)
		}
		sec.target("server→client WebSocket overhead per message (session)", "≤ 6 B", fmt.Sprintf("%.0f B (frame header 2 B, topic number and space%s)", c.overhead, single), c.overhead <= 6)
	} else {
		sec.missing("server→client WebSocket overhead per message (session)", "≤ 6 B", "WS session scenario failed")
	}
	if c, ok := costs["SSE session"]; ok {
		single := ""
		if w, ok := costs["SSE"]; ok {
			single = fmt.Sprintf("; the single-topic `sse`: payload + %.0f B", w.overhead)
		}
		sec.target("SSE bytes per message (session)", "≤ payload + 15 B", fmt.Sprintf("payload + %.0f B (HTTP chunk framing included%s)", c.overhead, single), c.overhead <= 15)
	} else {
		sec.missing("SSE bytes per message (session)", "≤ payload + 15 B", "SSE session scenario failed")
	}
	for _, name := range []string{"polling, empty (100 ms interval)", "polling, 1 message per poll", "long polling"} {
		c, ok := costs[name]
		if !ok || len(c.headers) == 0 {
			sec.missing(name+": response headers", "≤ 250 B", "not measured")
			continue
		}
		worst := percentile(c.headers, 100)
		sec.target(name+": response headers", "≤ 250 B", fmt.Sprintf("%.0f B median, %.0f B max", median(c.headers), worst), worst <= 250)
	}

	// HPBN's polling model with our bytes.
	if c, ok := costs["polling, empty (100 ms interval)"]; ok {
		perPoll := c.up + c.down
		sec.printf("\n### HPBN's polling model, recomputed\n\nHPBN (seed 003): an empty poll costs ~850 B (800 B of HTTP request and response headers, plus 50 B of cookie and message id). 10,000 clients polling every 60 s make 167 requests/s and 1.13 Mbps of fixed load, with no message for anyone; at 1 s it is over 60 Mbps. With the bytes measured here (comet's empty poll: %.0f B up + %.0f B down = %.0f B, a headless Chromium request with no cookies):\n", c.up, c.down, perPoll)
		var mrows [][]string
		for _, iv := range []float64{60, 1} {
			rps := 10000 / iv
			mrows = append(mrows, []string{fmt.Sprintf("%.0f s", iv), fmt.Sprintf("%.0f", rps),
				fmt.Sprintf("%.2f Mbps", rps*850*8/1e6), fmt.Sprintf("%.2f Mbps", rps*perPoll*8/1e6),
				fmt.Sprintf("%.2f Mbps", rps*(perPoll+50)*8/1e6)})
		}
		sec.table([]string{"interval (10,000 clients)", "requests/s", "HPBN, 850 B/poll", "measured bytes/poll", "measured + HPBN's 50 B cookie/id"}, mrows)
		if lp, ok := costs["long polling"]; ok {
			sec.printf("\nLong polling costs %.0f B and %.2f requests per delivered message; SSE %.0f B; WebSocket %.0f B (down, per message, all overhead included).\n",
				lp.up+lp.down, lp.reqs, costs["SSE"].down+costs["SSE"].up, costs["WebSocket"].down+costs["WebSocket"].up)
		}
	}
	return nil
}

func overheadText(count int, c wireCost) string {
	if count == 0 {
		return fmt.Sprintf("%.0f B per empty poll (up+down)", c.up+c.down)
	}
	return fmt.Sprintf("%.0f B", c.overhead)
}

func implName(impl string) string {
	switch impl {
	case "comet":
		return "comet (Go)"
	case "js":
		return "plain JS"
	}
	return impl
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
