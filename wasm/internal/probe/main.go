//go:build js && wasm

// Command probe is a test page's program: it follows one topic with
// package comet and records what the application receives, for the
// multi-node test (server/cluster_test.go). The page's query says what to
// follow:
//
//	probe.html?topic=T&from=EPOCH-OFFSET&transport=ws|sse|stream|longpoll|poll|default
//
// Every message's data is {"seq": N}. window.probeState(full) returns a
// JSON summary: how many arrived, the transport in use, gaps, switches,
// the subscription's Stats and, when full is true, every seq in order of
// arrival.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sync"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/wasm/comet"
)

// state is what the page reports; the callback only reads it under mu.
type state struct {
	mu  sync.Mutex
	r   report
	sub *comet.Subscription
}

// report is the JSON of probeState.
type report struct {
	Ready    bool        `json:"ready"`
	Seqs     []int       `json:"seqs,omitempty"`
	Count    int         `json:"count"`
	Last     int         `json:"last"`
	Gaps     []string    `json:"gaps"`
	Switches []string    `json:"switches"`
	Err      string      `json:"err,omitempty"`
	Active   string      `json:"active"`
	Stats    comet.Stats `json:"stats"`
	Cursor   string      `json:"cursor"`
}

func main() {
	st := &state{r: report{Last: -1}}
	report := js.FuncOf(func(this js.Value, args []js.Value) any {
		full := len(args) > 0 && args[0].Truthy()
		st.mu.Lock()
		sub := st.sub
		st.mu.Unlock()
		var active, cursor string
		var stats comet.Stats
		if sub != nil { // not under st.mu: OnSwitch takes it on sub's goroutine
			active, stats, cursor = sub.Active(), sub.Stats(), sub.Cursor().String()
		}
		st.mu.Lock()
		v := st.r
		st.mu.Unlock()
		v.Active, v.Stats, v.Cursor = active, stats, cursor
		if !full {
			v.Seqs = nil
		}
		b, _ := json.Marshal(&v)
		return string(b)
	})
	defer report.Release()
	js.Global().Set("probeState", report)
	if err := run(st); err != nil {
		st.mu.Lock()
		st.r.Err = err.Error()
		st.mu.Unlock()
	}
	select {} // keep probeState alive for the test
}

func run(st *state) error {
	q, err := url.ParseQuery(js.Global().Get("location").Get("search").String()[1:])
	if err != nil {
		return err
	}
	opts := &comet.Options{
		OnSwitch: func(sw comet.Switch) {
			st.mu.Lock()
			defer st.mu.Unlock()
			reason := ""
			if sw.Err != nil {
				reason = ": " + sw.Err.Error()
			}
			st.r.Switches = append(st.r.Switches, sw.From+"→"+sw.To+" at "+sw.Cursor.String()+reason)
		},
	}
	if q.Get("from") != "" {
		if opts.From, err = comet.ParseCursor(q.Get("from")); err != nil {
			return err
		}
	}
	// Quick retries: a killed node is noticed at once (the proxy closes
	// the connection), and the next try goes to another node.
	backoff := 100 * time.Millisecond
	opts.Backoff = backoff
	switch q.Get("transport") {
	case "ws":
		opts.Transports = []comet.Transport{comet.WS{}}
	case "sse":
		opts.Transports = []comet.Transport{comet.SSE{}}
	case "stream":
		opts.Transports = []comet.Transport{comet.Stream{}}
	case "longpoll":
		opts.Transports = []comet.Transport{comet.LongPoll{Backoff: backoff}}
	case "poll":
		opts.Transports = []comet.Transport{comet.Poll{Interval: 200 * time.Millisecond, Backoff: backoff}}
	case "default", "":
	default:
		return errors.New("probe: unknown transport " + q.Get("transport"))
	}
	// A gap ends a subscription (the application decides what to do):
	// record it and follow on from where the server resumes.
	for {
		sub, err := comet.SubscribeFeed(context.Background(), q.Get("topic"), opts)
		if err != nil {
			return err
		}
		st.mu.Lock()
		st.sub, st.r.Ready = sub, true
		st.mu.Unlock()
		gap, err := follow(st, sub)
		if gap == nil {
			return err
		}
		opts.From = gap.Resume
	}
}

// follow records sub's messages until it ends: with a gap, or an error.
func follow(st *state, sub *comet.Subscription) (*comet.GapError, error) {
	for {
		m, err := sub.Next(context.Background())
		if gap, ok := errors.AsType[*comet.GapError](err); ok {
			b, _ := json.Marshal(gap)
			st.mu.Lock()
			st.r.Gaps = append(st.r.Gaps, string(b))
			st.mu.Unlock()
			return gap, nil
		}
		if err != nil {
			return nil, err
		}
		var d struct {
			Seq int `json:"seq"`
		}
		if err := json.Unmarshal(m.Data, &d); err != nil {
			return nil, err
		}
		st.mu.Lock()
		st.r.Seqs = append(st.r.Seqs, d.Seq)
		st.r.Count++
		st.r.Last = d.Seq
		st.mu.Unlock()
	}
}
