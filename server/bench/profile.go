//go:build !js

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// fnTime is one function's share of a CPU profile.
type fnTime struct {
	name        string
	self, total float64 // fraction of all samples
}

// profile runs one case under Chromium's sampling CPU profiler (V8 sees
// the wasm function names, since the bench programs keep their name
// section) and returns the functions by self time, and by total time.
func (e *env) profile(ctx context.Context, impl, name string, params map[string]any) (self, total []fnTime, err error) {
	start := func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, profiler.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 200}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, profiler.Start, cdp.Empty{})
		return err
	}
	if err := chromedp.Do(e.tab, chromedp.Func(start)); err != nil {
		return nil, nil, err
	}
	_, runErr := e.run(ctx, impl, name, params, 90*time.Second)
	prof, err := chromedp.Run(e.tab, func(ctx context.Context, t *chromedp.Target) (*profiler.Profile, error) {
		r, err := cdp.Call(ctx, t, profiler.Stop, cdp.Empty{})
		return r.Profile, err
	})
	if runErr != nil {
		return nil, nil, runErr
	}
	if err != nil || prof == nil {
		return nil, nil, fmt.Errorf("profile: %v", err)
	}
	nodes := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, n := range prof.Nodes {
		nodes[n.ID] = n
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	fname := func(n *profiler.ProfileNode) string {
		if n.CallFrame == nil || n.CallFrame.FunctionName == "" {
			return "(anonymous JS)"
		}
		f := n.CallFrame.FunctionName
		if strings.HasPrefix(f, "$") { // wasm names come as $name
			f = f[1:]
		}
		return f
	}
	selfN := map[string]float64{}
	totalN := map[string]float64{}
	samples := 0.0
	for _, id := range prof.Samples {
		n := nodes[id]
		if n == nil {
			continue
		}
		name := fname(n)
		if name == "(idle)" || name == "(program)" {
			continue
		}
		samples++
		selfN[name]++
		seen := map[string]bool{}
		for cur, ok := id, true; ok; cur, ok = parent[cur] {
			fn := fname(nodes[cur])
			if !seen[fn] {
				seen[fn] = true
				totalN[fn]++
			}
		}
	}
	if samples == 0 {
		return nil, nil, fmt.Errorf("profile: no samples")
	}
	sorted := func(m map[string]float64) []fnTime {
		var out []fnTime
		for k := range m {
			out = append(out, fnTime{name: k, self: selfN[k] / samples, total: totalN[k] / samples})
		}
		slices.SortFunc(out, func(a, b fnTime) int {
			if m[a.name] > m[b.name] {
				return -1
			}
			if m[a.name] < m[b.name] {
				return 1
			}
			return strings.Compare(a.name, b.name)
		})
		return out
	}
	return sorted(selfN), sorted(totalN), nil
}

// writeProfile adds the top self-time functions, and the comet and
// syscall/js functions by total time, to the section.
func writeProfile(sec *section, title string, self, total []fnTime) {
	sec.printf("\n<details><summary>CPU profile, comet (Go): %s</summary>\n\nTop by self time (share of busy samples; `(garbage collector)` and `(anonymous JS)` include wasm_exec.js glue):\n", title)
	var rows [][]string
	for _, f := range self[:min(14, len(self))] {
		rows = append(rows, []string{"`" + f.name + "`", pct(f.self), pct(f.total)})
	}
	sec.table([]string{"function", "self", "total"}, rows)
	rows = nil
	for _, f := range total {
		if len(rows) >= 14 {
			break
		}
		if strings.Contains(f.name, "cometwasm") && !strings.Contains(f.name, "bench") || strings.HasPrefix(f.name, "syscall/js.") {
			rows = append(rows, []string{"`" + f.name + "`", pct(f.self), pct(f.total)})
		}
	}
	sec.printf("\ncomet and syscall/js functions by total time (self + callees):\n")
	sec.table([]string{"function", "self", "total"}, rows)
	sec.printf("\n</details>\n")
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
