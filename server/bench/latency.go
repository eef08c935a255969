//go:build !js

package main

import (
	"context"
	"fmt"
	"time"
)

func (b *bench) latency(ctx context.Context, sec *section) error {
	e, err := b.env(ctx)
	if err != nil {
		return err
	}
	if err := e.open(ctx, e.srv.Page); err != nil {
		return err
	}
	const msgs = 60
	sec.printf("\nThe host stamps each message with its Unix time in ns just before POST /realtime/publish; the handler in the page subtracts it from `performance.timeOrigin + performance.now()` (the Go program reads that clock once and adds Go's monotonic time since, which wasm_exec takes from performance.now(); Go's wall clock there is Date.now(), whole milliseconds). %d messages 20 ms apart per run (polling: 100 ms interval, so its latency is mostly the wait for the next poll); %d runs; each percentile is the median over runs. Loopback, direct to the server (no proxy). The Go handler reads `comet.Subscribe` (a session on the page's shared Client, over the one transport: the product's default), its subscription's Next, as an application does; the rows \"comet SubscribeFeed\" read the single-topic endpoints (`comet.SubscribeFeed`) for reference. Plain JS reads the single-topic endpoints (EventSource, WebSocket, XHR, fetch) with the browser's API and nothing else.\n", msgs, b.runs)
	type impl struct{ name, kind string } // kind: the page's impl and how comet follows
	var rows [][]string
	for _, tr := range append(transports, "fetchstream") {
		impls := []impl{{"comet (Go), comet.Subscribe", "shared"}, {"plain JS", "js"}}
		switch tr {
		case "fetchstream": // reference: the stream read with fetch
			impls = []impl{{"plain JS", "js"}}
		case "sse", "ws":
			impls = append(impls, impl{"comet SubscribeFeed", "feed"})
		}
		if !matchCase(tr, b.caseFilter) {
			continue
		}
		for _, im := range impls {
			var p50, p95, p99 []float64
			var errs []string
			for r := 0; r < b.runs; r++ {
				gap := 20 * time.Millisecond
				if tr == "poll" {
					gap = 100 * time.Millisecond
				}
				spec := feedSpec{impl: "comet", transport: tr, topic: fmt.Sprintf("lat-%s-%s-%d", tr, im.kind, r),
					origin: e.srv.Page, count: msgs / map[bool]int{true: 2, false: 1}[tr == "poll"], gap: gap, interval: 100,
					shared: im.kind == "shared"}
				if im.kind == "js" {
					spec.impl = "js"
				}
				res, err := b.feed(ctx, e, spec)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				p50 = append(p50, percentile(res.Lat, 50))
				p95 = append(p95, percentile(res.Lat, 95))
				p99 = append(p99, percentile(res.Lat, 99))
			}
			target := (tr == "ws" || tr == "sse") && im.kind == "shared"
			if len(p50) == 0 {
				rows = append(rows, []string{tr, im.name, "failed: " + firstErr(errs), "", ""})
				if target {
					sec.missing(tr+" publish → Go handler p50 (comet.Subscribe)", "≤ 2 ms", firstErr(errs))
				}
				continue
			}
			rows = append(rows, []string{tr, im.name, ms(median(p50)), ms(median(p95)), ms(median(p99))})
			if target {
				m := median(p50)
				sec.target(tr+" publish → Go handler p50 (comet.Subscribe)", "≤ 2 ms", ms(m), m <= 2)
			}
		}
	}
	sec.table([]string{"transport", "handler", "p50", "p95", "p99"}, rows)
	sec.printf("\n`fetchstream` is plain JS reading the same /realtime/stream response with fetch() and a ReadableStream reader instead of XHR: Chromium throttles XHR progress and readyState-3 events to one per ~50 ms, which is the floor of the XHR stream's latency.\n")
	return nil
}

func ms(x float64) string { return fmt.Sprintf("%.2f ms", x) }
