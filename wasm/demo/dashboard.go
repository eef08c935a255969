//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"honnef.co/go/js/dom/v2"

	"github.com/cometwasm/comet/wasm/comet"
)

// dashTopics is how many topics the server's dashboard feed publishes
// (dash:1 … dash:20, server/dashboard.go).
const dashTopics = 20

// dashTile is one topic on the dashboard.
type dashTile struct {
	topic string
	count dom.HTMLElement
	value dom.HTMLElement
	n     int
	last  string
}

// dashboardSection follows 20 live topics on one comet.Client: one
// connection for all of them, whatever the transport.
func dashboardSection(config) *card {
	c := newCard("dashboard", "Dashboard: 20 topics, one connection",
		"One comet.Client follows the server's 20 live topics dash:1 … dash:20 over a single connection (WebSocket first; pick another transport to see it hold). Each tile counts the readings of its topic, each one exactly once.")
	tr := selectOf("dash-transport", "auto", "ws", "sse", "stream", "longpoll", "poll")
	tr.Options()[0].SetTextContent("auto (WebSocket, falling back)")
	start := button("dash-start", "Connect", "", nil)
	stop := button("dash-stop", "Disconnect", "secondary", nil)
	stop.SetDisabled(true)
	status := el("p", "counts", "Not connected.")
	status.SetID("dash-state")
	grid := el("div", "dash-grid")
	grid.SetID("dash-grid")
	tiles := make([]*dashTile, dashTopics)
	for i := range tiles {
		t := &dashTile{topic: "dash:" + strconv.Itoa(i+1), count: el("span", "big", "0"), value: el("span", "muted small", "–")}
		t.count.SetID("dash-count-" + strconv.Itoa(i+1))
		grid.AppendChild(el("div", "dash-tile", el("span", "small", t.topic), t.count, t.value))
		tiles[i] = t
	}
	add(c.body,
		el("div", "row", labelled("Transport", tr), start, stop),
		status,
		grid,
		el("p", "muted small", "Connections: the transport connections the client holds now (a probe of a better transport briefly adds one), and the session requests the browser's Resource Timing saw finish (polls make one per answer; a WebSocket or a live stream shows none until it ends)."))

	var mu sync.Mutex
	var cancel context.CancelFunc
	onClick(stop, func() {
		mu.Lock()
		if cancel != nil {
			cancel()
		}
		mu.Unlock()
	})
	onClick(start, func() {
		ctx, stopFn := context.WithCancel(context.Background())
		defer stopFn()
		mu.Lock()
		cancel = stopFn
		mu.Unlock()
		start.SetDisabled(true)
		tr.SetDisabled(true)
		stop.SetDisabled(false)
		defer func() {
			start.SetDisabled(false)
			tr.SetDisabled(false)
			stop.SetDisabled(true)
		}()
		c.fail(nil)
		opts := &comet.Options{Heartbeat: 5 * time.Second, Probe: 5 * time.Second}
		opts.Transports = pickedTransports(tr.Value())
		client, err := comet.Connect(ctx, opts)
		if err != nil {
			c.fail(err)
			return
		}
		defer client.Close()
		var tmu sync.Mutex
		var wg sync.WaitGroup
		for _, t := range tiles {
			t.n, t.last = 0, "–"
			sub, err := client.Subscribe(ctx, t.topic, nil)
			if err != nil {
				c.fail(err)
				return
			}
			wg.Go(func() {
				defer sub.Close()
				for m, err := range sub.All(ctx) {
					if err != nil {
						if errors.Is(err, comet.ErrUnconfirmed) {
							c.say("warn", err.Error())
							continue
						}
						c.fail(err)
						return
					}
					var d struct{ V float64 }
					json.Unmarshal(m.Data, &d)
					tmu.Lock()
					t.n++
					t.last = strconv.FormatFloat(d.V, 'f', 2, 64) + " @" + strconv.FormatUint(m.Offset, 10)
					tmu.Unlock()
				}
			})
		}
		c.say("", "Connecting…")
		began := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				status.SetTextContent("Disconnected.")
				c.say("", "Disconnected.")
				return
			case <-tick.C:
			}
			total := 0
			tmu.Lock()
			for _, t := range tiles {
				t.count.SetTextContent(strconv.Itoa(t.n))
				t.value.SetTextContent(t.last)
				total += t.n
			}
			tmu.Unlock()
			st := client.Stats()
			status.SetTextContent("Transport: " + client.Active() +
				" · connections held: " + strconv.Itoa(st.Open) + " (most at once " + strconv.Itoa(st.MaxOpen) + ", opened " + strconv.Itoa(st.Connections) + ")" +
				" · session requests finished: " + strconv.Itoa(sessionRequests()) +
				" · switches: " + strconv.Itoa(st.Switches) +
				" · " + strconv.Itoa(total) + " readings in " + time.Since(began).Round(time.Second).String())
			if err := client.Err(); err != nil {
				c.say("warn", plain(err))
			} else if total > 0 {
				c.say("ok", "Live: 20 topics on one "+client.Active()+" connection.")
			}
		}
	})
	return c
}

// sessionRequests counts the browser's Resource Timing entries of session
// requests (finished ones only).
func sessionRequests() int {
	perf := js.Global().Get("performance")
	if perf.IsUndefined() {
		return 0
	}
	entries := perf.Call("getEntriesByType", "resource")
	n := 0
	for i := range entries.Length() {
		if strings.Contains(entries.Index(i).Get("name").String(), "/realtime/session/") {
			n++
		}
	}
	return n
}

// pickedTransports is the transport a picker of the demo names ("ws",
// "sse", "stream", "longpoll", "poll"); nil (the default fallback order)
// for anything else.
func pickedTransports(name string) []comet.Transport {
	switch name {
	case "ws":
		return []comet.Transport{comet.WS{}}
	case "sse":
		return []comet.Transport{comet.SSE{}}
	case "stream":
		return []comet.Transport{comet.Stream{}}
	case "longpoll":
		return []comet.Transport{comet.LongPoll{}}
	case "poll":
		return []comet.Transport{comet.Poll{Interval: time.Second}}
	}
	return nil
}
