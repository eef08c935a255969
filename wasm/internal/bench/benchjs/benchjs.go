//go:build js && wasm

// Package benchjs is the glue between server/bench's page and a Go bench
// program: Serve registers globalThis.<name>Bench(case, paramsJSON), which
// returns a Promise of the JSON Result.
package benchjs

import (
	"context"
	"encoding/json"
	"errors"
	"syscall/js"
	"time"
)

// Result is what every case returns; the page's JS cases return the same.
type Result struct {
	N     int       `json:"n"`     // operations or messages completed
	Ms    float64   `json:"ms"`    // wall time of the timed part
	Bytes int64     `json:"bytes"` // payload bytes the program received or sent
	Lat   []float64 `json:"lat,omitempty"`
}

// Params are the case parameters; each case reads what it needs.
type Params struct {
	URL      string `json:"url"`
	Size     int    `json:"size"`
	Count    int    `json:"count"`
	Inflight int    `json:"inflight"`
	Binary   bool   `json:"binary"`
	Upload   int    `json:"upload"`
	Event    string `json:"event"`
	Topic    string `json:"topic"`
	Hello    string `json:"hello"`
	Latency  bool   `json:"latency"`
	Repeat   int    `json:"repeat"`
	// Transport names the comet transport of a subscription case.
	Transport string `json:"transport"`
	// Interval is a poll interval in ms.
	Interval int `json:"interval"`
	// Base is the server's origin; Cursor the start cursor ("E-N");
	// Duration how long (ms) a Count 0 subscription lasts.
	Base     string `json:"base"`
	Cursor   string `json:"cursor"`
	Duration int    `json:"duration"`
}

// Case runs one benchmark case.
type Case func(ctx context.Context, p Params) (Result, error)

// Serve registers globalThis[name+"Bench"] and blocks forever.
func Serve(name string, cases map[string]Case) {
	f := js.FuncOf(func(this js.Value, args []js.Value) any {
		caseName, raw := args[0].String(), args[1].String()
		var resolve, reject js.Value
		exec := js.FuncOf(func(_ js.Value, a []js.Value) any {
			resolve, reject = a[0], a[1]
			return nil
		})
		promise := js.Global().Get("Promise").New(exec)
		exec.Release()
		go func() {
			res, err := run(cases, caseName, raw)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(name + " " + caseName + ": " + err.Error()))
				return
			}
			b, _ := json.Marshal(res)
			resolve.Invoke(string(b))
		}()
		return promise
	})
	js.Global().Set(name+"Bench", f)
	select {}
}

func run(cases map[string]Case, name, raw string) (Result, error) {
	c, ok := cases[name]
	if !ok {
		return Result{}, errors.New("no such case")
	}
	var p Params
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c(ctx, p)
}

// Clock gives wall time in ms on the page's clock (performance.timeOrigin
// + performance.now(), sub-ms), which the host's Unix time matches. Go's
// wall clock in wasm is Date.now() (whole ms), but its monotonic clock is
// timeOrigin + performance.now(), so a Clock reads the page's time once
// and adds the monotonic time elapsed since.
type Clock struct {
	page  float64   // the page's time at start, ms
	start time.Time // with its monotonic reading
}

// NewClock calibrates a Clock.
func NewClock() Clock {
	perf := js.Global().Get("performance")
	start := time.Now()
	return Clock{page: perf.Get("timeOrigin").Float() + perf.Call("now").Float(), start: start}
}

// NowMs is the page's wall time in ms.
func (c Clock) NowMs() float64 { return c.page + float64(time.Since(c.start))/1e6 }

// Since is ms elapsed since t0 (from NowMs).
func (c Clock) Since(t0 float64) float64 { return c.NowMs() - t0 }

// Payload returns size bytes of 'x'.
func Payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

// LatencyMs extracts t (Unix ns) from a benchmark message, at the top
// level or under "data", and returns now - t in ms; ok is false for other
// messages.
func (c Clock) LatencyMs(msg []byte) (float64, bool) {
	var m struct {
		T    *int64 `json:"t"`
		Data struct {
			T *int64 `json:"t"`
		} `json:"data"`
	}
	now := c.NowMs()
	if json.Unmarshal(msg, &m) != nil {
		return 0, false
	}
	t := m.T
	if t == nil {
		t = m.Data.T
	}
	if t == nil {
		return 0, false
	}
	return now - float64(*t)/1e6, true
}
