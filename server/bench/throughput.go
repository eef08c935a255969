//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"
)

// tcase is one browser throughput case, run by every implementation.
type tcase struct {
	title  string
	name   string // the page's case name
	params map[string]any
	impls  []string
	unit   string // "msg/s", "req/s", "MB/s", "events/s"
	want   float64
	rounds int // per run; count is split between them
	// reference is coder/websocket's ratio measured on this machine
	// earlier (the figures).
	reference string
}

// rate turns a result into the case's unit.
func (c tcase) rate(r result) float64 {
	if r.Ms <= 0 {
		return 0
	}
	if c.unit == "MB/s" {
		return float64(r.Bytes) / 1e6 / (r.Ms / 1000)
	}
	return float64(r.N) / (r.Ms / 1000)
}

func (b *bench) browser(ctx context.Context, sec *section) error {
	e, err := b.env(ctx)
	if err != nil {
		return err
	}
	if err := e.open(ctx, e.srv.Page); err != nil {
		return err
	}
	wsURL := "ws" + strings.TrimPrefix(e.srv.Page, "http")
	sseStart, err := b.prepareSSE(ctx, e.srv.Page, "bench-sse", 1000, 64)
	if err != nil {
		logf("preparing the SSE case: %v", err)
	}
	all := []string{"js", "comet", "coder"}
	cases := []tcase{
		{title: "WS echo, 1 KiB text ping-pong", name: "wsEcho", unit: "msg/s", want: 0.95, impls: all, reference: "0.83",
			params: map[string]any{"url": wsURL + "/ws/echo", "size": 1024, "count": 3000, "inflight": 1}, rounds: 5},
		{title: "WS echo, 1 KiB text, 64 in flight", name: "wsEcho", unit: "msg/s", want: 0.85, impls: all, reference: "0.65",
			params: map[string]any{"url": wsURL + "/ws/echo", "size": 1024, "count": 12000, "inflight": 64}, rounds: 4},
		{title: "WS echo, 64 KiB binary ping-pong", name: "wsEcho", unit: "MB/s", want: 0.95, impls: all, reference: "0.91",
			params: map[string]any{"url": wsURL + "/ws/echo", "size": 64 << 10, "count": 400, "inflight": 1, "binary": true}, rounds: 4},
		{title: "XHR small GETs, sequential", name: "xhr", unit: "req/s", want: 0.9, impls: []string{"js", "comet"},
			params: map[string]any{"url": e.srv.Page + "/api/text", "count": 400}, rounds: 4},
		{title: "XHR 16 MiB download", name: "xhr", unit: "MB/s", want: 0.9, impls: []string{"js", "comet"},
			params: map[string]any{"url": e.srv.Page + "/xhr/bytes?n=16777216&chunk=1048576", "count": 1, "binary": true}, rounds: 3},
		{title: "XHR 16 MiB upload", name: "xhr", unit: "MB/s", want: 0.9, impls: []string{"js", "comet"},
			params: map[string]any{"url": e.srv.Page + "/xhr/sink", "count": 1, "upload": 16 << 20}, rounds: 3},
		{title: "SSE events delivered to the handler", name: "sse", unit: "events/s", want: 0.95, impls: []string{"js", "comet"},
			params: map[string]any{"url": e.srv.Page + "/realtime/sse?topic=bench-sse&flush=1&cursor=" + sseStart, "count": 1000, "repeat": 2}, rounds: 3},
	}
	sec.printf("\nOne page, one server, %d runs. A run is 3 to 5 rounds; in each round every implementation runs its share of the case once, in an order that rotates, and a run sums its rounds (so a burst of load from the other processes on this shared machine does not land on one implementation only). Rates are medians over runs; each Go/JS ratio is computed within a run, and the median ratio is shown. WS echo goes to `/ws/echo` (the server's coder/websocket echo), XHR to `/api/text` (73 B), `/xhr/bytes` and `/xhr/sink` (the server runs with -max-body 32 MiB for the upload); SSE replays 1,000 published events (64 B data, ~200 B per event on the wire) from `/realtime/sse?flush=1` (the server ends a write of several events with a `_flush` event, which the Go side names in sse.Options.FlushEvent and plain JS, listening for \"message\", never sees), twice per round, timing each connection from the browser's dispatch of its first event (the event's timeStamp, for JS and Go alike: Go's clock would otherwise start only when the first batch reached it) to the last event reaching the handler.\n", b.runs)
	var rows [][]string
	var profiles []tcase // cases below target: profiled once below
	for _, c := range cases {
		if !matchCase(c.title, b.caseFilter) {
			continue
		}
		rates := map[string][]float64{}
		ratios := map[string][]float64{}
		var errs []string
		for r := 0; r < b.runs; r++ {
			// A run is c.rounds rounds; in each, every implementation runs
			// count/rounds once, in an order that rotates. Summing the
			// rounds keeps a burst of load from other processes from
			// landing on one implementation only.
			sum := map[string]*result{}
			failed := map[string]bool{}
			rounds := max(1, c.rounds)
			params := maps.Clone(c.params)
			if n, ok := params["count"].(int); ok && rounds > 1 && c.name != "sse" { // SSE: count is the replay
				params["count"] = max(1, n/rounds)
			}
			for k := 0; k < rounds; k++ {
				for i := range c.impls {
					impl := c.impls[(i+r+k)%len(c.impls)]
					if failed[impl] {
						continue
					}
					res, err := e.run(ctx, impl, c.name, params, 90*time.Second)
					if err != nil {
						errs = append(errs, err.Error())
						failed[impl] = true
						continue
					}
					if sum[impl] == nil {
						sum[impl] = &result{}
					}
					sum[impl].N += res.N
					sum[impl].Ms += res.Ms
					sum[impl].Bytes += res.Bytes
				}
			}
			got := map[string]float64{}
			for impl, res := range sum {
				if !failed[impl] {
					got[impl] = c.rate(*res)
					rates[impl] = append(rates[impl], got[impl])
				}
			}
			for _, impl := range c.impls[1:] {
				if got["js"] > 0 && got[impl] > 0 {
					ratios[impl] = append(ratios[impl], got[impl]/got["js"])
				}
			}
		}
		logf("%s: %v ratios %v", c.title, rates, ratios)
		row := []string{c.title, c.unit}
		for _, impl := range all {
			row = append(row, fmtRate(rates[impl]))
		}
		row = append(row, fmtRatio(ratios["comet"]), fmtRatio(ratios["coder"]))
		want := "–"
		if c.want > 0 {
			want = fmt.Sprintf("≥ %.2f", c.want)
			name := "Go/JS " + c.title
			if len(ratios["comet"]) == 0 {
				sec.missing(name, want, firstErr(errs))
			} else {
				m := median(ratios["comet"])
				got := f2(m)
				if c.reference != "" {
					got += fmt.Sprintf(" (coder/websocket here: %s; reference %s)", fmtRatio(ratios["coder"]), c.reference)
				}
				sec.target(name, want, got, m >= c.want)
				if m < c.want {
					profiles = append(profiles, c)
				}
			}
		}
		if c.want == 0 && len(ratios["comet"]) > 0 && median(ratios["comet"]) < 0.9 {
			profiles = append(profiles, c) // no target, but worth a look
		}
		row = append(row, want)
		rows = append(rows, row)
		if len(errs) > 0 {
			sec.printf("\n- %s: %d failed runs, e.g. `%s`\n", c.title, len(errs), firstErr(errs))
		}
	}
	sec.table([]string{"case", "unit", "plain JS", "comet (Go)", "coder/websocket (Go)", "comet/JS", "coder/JS", "target"}, rows)
	if len(profiles) > 0 {
		sec.printf("\n### Profiles of the cases below target (or below 0.9 without one)\n\nOne extra run of comet's side of each, and of plain JS's, under Chromium's sampling profiler (200 µs).\n")
	}
	for _, c := range profiles {
		self, total, err := e.profile(ctx, "comet", c.name, c.params)
		if err != nil {
			sec.printf("\n- %s: profile failed: `%v`\n", c.title, err)
			continue
		}
		writeProfile(sec, c.title, self, total)
		if jsSelf, _, err := e.profile(ctx, "js", c.name, c.params); err == nil {
			sec.printf("\nThe same case in plain JS, top by self time: ")
			for i, f := range jsSelf[:min(6, len(jsSelf))] {
				if i > 0 {
					sec.printf(", ")
				}
				sec.printf("`%s` %s", f.name, pct(f.self))
			}
			sec.printf(".\n")
		}
	}
	return nil
}

// matchCase reports whether title contains one of the |-separated parts
// of filter (all titles match an empty filter).
func matchCase(title, filter string) bool {
	for _, part := range strings.Split(filter, "|") {
		if strings.Contains(title, part) {
			return true
		}
	}
	return false
}

func fmtRate(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	m := median(xs)
	if m >= 100 {
		return fmt.Sprintf("%.0f", m)
	}
	return fmt.Sprintf("%.1f", m)
}

func fmtRatio(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	return f2(median(xs))
}

func firstErr(errs []string) string {
	if len(errs) == 0 {
		return "no result"
	}
	s := errs[0]
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return strings.ReplaceAll(s, "|", "/")
}

// publish posts drafts to topic through POST /realtime/publish and returns
// the cursor after the last one.
func publish(ctx context.Context, origin, topic string, drafts []map[string]any) (string, error) {
	body, _ := json.Marshal(map[string]any{"topic": topic, "messages": drafts})
	req, err := http.NewRequestWithContext(ctx, "POST", origin+"/realtime/publish", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("publish: %s: %s", resp.Status, b)
	}
	var out struct {
		Cursor string `json:"cursor"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", err
	}
	return out.Cursor, nil
}

// prepareSSE publishes n messages of size bytes of data to topic and
// returns the cursor before the first.
func (b *bench) prepareSSE(ctx context.Context, origin, topic string, n, size int) (string, error) {
	drafts := make([]map[string]any, n)
	pad := strings.Repeat("x", max(0, size-20))
	for i := range drafts {
		drafts[i] = map[string]any{"type": "message", "data": map[string]any{"i": i, "p": pad}}
	}
	cur, err := publish(ctx, origin, topic, drafts)
	if err != nil {
		return "", err
	}
	i := strings.LastIndexByte(cur, '-')
	var last uint64
	fmt.Sscan(cur[i+1:], &last)
	return fmt.Sprintf("%s-%d", cur[:i], last-uint64(n)), nil
}
