//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"honnef.co/go/js/dom/v2"

	"github.com/cometwasm/comet/wasm/comet"
	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/xhr"
)

// The Comet race: one publisher, five subscriptions to the same topic,
// each pinned to one transport. Each lane measures latency (publish call
// to delivery), requests, bytes on the wire per message, and checks that
// nothing is lost or duplicated, also across "Drop connections".

// droppable wraps a transport so the page can cut its connection: Drop
// cancels the running connection (the browser aborts the request or closes
// the socket) and SubscribeFeed reconnects from its cursor. The race runs
// on SubscribeFeed, not on a shared session: each lane must hold its own
// connection of one transport to be raced against the others.
type droppable struct {
	comet.Transport
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (d *droppable) Run(ctx context.Context, f comet.Feed) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	d.cancel = cancel
	d.mu.Unlock()
	return d.Transport.Run(ctx, f)
}

func (d *droppable) Drop() {
	d.mu.Lock()
	if d.cancel != nil {
		d.cancel()
	}
	d.mu.Unlock()
}

// lane is one transport of the race.
type lane struct {
	name, label string
	tr          *droppable
	sub         *comet.Subscription

	mu       sync.Mutex
	got      map[int]int // seq → times delivered
	lat      []float64   // ms, in delivery order
	latBySeq map[int]float64
	estBytes int64 // framing estimate for open streams
	reqs     int   // finished requests (Resource Timing)
	wire     int64 // their transferSize
	err      error

	cells map[string]dom.HTMLElement
}

func (l *lane) row() dom.HTMLElement {
	l.cells = map[string]dom.HTMLElement{}
	tr := el("tr", "")
	tr.SetID("race-" + l.name)
	th := el("th", "", el("span", "swatch lane-"+l.name), l.label)
	th.SetAttribute("scope", "row")
	tr.AppendChild(th)
	for _, k := range []string{"recv", "lost", "dup", "p50", "p95", "reqs", "bytes"} {
		td := el("td", "num", "–")
		td.SetAttribute("data-k", k)
		l.cells[k] = td
		tr.AppendChild(td)
	}
	return tr
}

// raceRun is one race: a topic, its lanes, the publisher's clock.
type raceRun struct {
	topic string
	lanes []*lane

	mu        sync.Mutex
	sent      map[int]time.Time
	published int
}

func raceSection(cfg config) *card {
	c := newCard("race", "Comet race",
		"One publisher feeds five subscribers side by side, one per transport. Latency runs from the publish call to delivery in Go. Drop the connections mid-race: every transport resumes from its cursor, and lost and duplicated stay at 0.")
	count := input("race-count", "number", "40")
	count.SetAttribute("min", "1")
	count.SetAttribute("max", "1000")
	rate := selectOf("race-rate", "10", "5", "20")
	for _, o := range rate.Options() {
		o.SetTextContent(o.Value() + " per second")
	}
	start := button("race-start", "Start race", "", nil)
	drop := button("race-drop", "Drop connections", "secondary", nil)
	drop.SetDisabled(true)
	totals := el("p", "counts", "Not started.")
	totals.SetID("race-totals")
	thead := el("tr", "")
	for _, h := range []string{"Transport", "Received", "Lost", "Dup", "p50", "p95", "Requests", "B/msg"} {
		th := el("th", "", h)
		th.SetAttribute("scope", "col")
		thead.AppendChild(th)
	}
	tbody := el("tbody", "")
	table := el("table", "race", el("thead", "", thead), tbody)
	chart := newRaceChart()
	add(c.body,
		el("div", "row", labelled("Messages", count), labelled("Rate", rate), start, drop),
		totals,
		el("div", "scroll", table),
		chart.root,
		el("p", "muted small", "Requests and bytes come from the browser's Resource Timing for HTTP requests that finished; for connections still open (SSE, streaming, WebSocket) bytes are the frame sizes, marked ≈. p50/p95: median and 95th percentile latency."))

	var mu sync.Mutex
	var current *raceRun
	onClick(drop, func() {
		mu.Lock()
		run := current
		mu.Unlock()
		if run == nil {
			return
		}
		for _, l := range run.lanes {
			l.tr.Drop()
		}
		c.say("warn", "Dropped every connection; each transport reconnects from its cursor.")
	})
	onClick(start, func() {
		n, err := strconv.Atoi(count.Value())
		if err != nil || n < 1 || n > 1000 {
			c.fail(errors.New("messages: pick a number from 1 to 1000"))
			return
		}
		perSec, _ := strconv.Atoi(rate.Value())
		start.SetDisabled(true)
		drop.SetDisabled(false)
		defer func() {
			start.SetDisabled(false)
			drop.SetDisabled(true)
		}()
		c.fail(nil)
		run := &raceRun{topic: "race-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), sent: map[int]time.Time{}}
		mu.Lock()
		current = run
		mu.Unlock()
		err = run.race(c, cfg, n, perSec, tbody, totals, chart)
		mu.Lock()
		current = nil
		mu.Unlock()
		if err != nil {
			c.fail(err)
		}
	})
	return c
}

func newLanes() []*lane {
	mk := func(name, label string, t comet.Transport) *lane {
		return &lane{name: name, label: label, tr: &droppable{Transport: t}, got: map[int]int{}, latBySeq: map[int]float64{}}
	}
	return []*lane{
		mk("poll", "Polling (1 s)", comet.Poll{Interval: time.Second}),
		mk("longpoll", "Long polling", comet.LongPoll{}),
		mk("stream", "HTTP streaming", comet.Stream{}),
		mk("sse", "SSE", comet.SSE{}),
		mk("ws", "WebSocket", comet.WS{}),
	}
}

// race publishes n messages at perSec and follows them on every lane.
func (run *raceRun) race(c *card, cfg config, n, perSec int, tbody dom.HTMLElement, totals dom.HTMLElement, chart *raceChart) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tbody.SetTextContent("")
	run.lanes = newLanes()
	for _, l := range run.lanes {
		tbody.AppendChild(l.row())
	}
	chart.reset(run.lanes)

	// A first message fixes the cursor every lane starts after, so each
	// must receive every message that follows.
	c.say("", "Opening the topic "+run.topic+"…")
	startCur, err := publish(ctx, run.topic, map[string]any{"start": true})
	if err != nil {
		return err
	}
	from, err := comet.ParseCursor(startCur)
	if err != nil {
		return err
	}
	stopTiming := run.watchRequests()
	defer stopTiming()
	var wg sync.WaitGroup
	for _, l := range run.lanes {
		sub, err := comet.SubscribeFeed(ctx, run.topic, &comet.Options{
			Transports: []comet.Transport{l.tr}, From: from, Heartbeat: 5 * time.Second, Backoff: 200 * time.Millisecond,
		})
		if err != nil {
			return err
		}
		l.sub = sub
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.follow(ctx, run)
		}()
	}

	render := func() {
		run.render(totals)
		chart.draw(run.lanes, run.publishedCount())
	}
	ticker := time.NewTicker(250 * time.Millisecond)
	defer ticker.Stop()
	go func() {
		for {
			select {
			case <-ticker.C:
				render()
			case <-ctx.Done():
				return
			}
		}
	}()

	c.say("", "Racing: publishing "+strconv.Itoa(n)+" messages…")
	every := time.Second / time.Duration(perSec)
	next := time.Now()
	for seq := 1; seq <= n; seq++ {
		run.mu.Lock()
		run.sent[seq] = time.Now()
		run.mu.Unlock()
		if _, err := publish(ctx, run.topic, map[string]any{"seq": seq}); err != nil {
			return errors.Join(errors.New("publishing message "+strconv.Itoa(seq)+" failed"), err)
		}
		run.mu.Lock()
		run.published = seq
		run.mu.Unlock()
		next = next.Add(every)
		time.Sleep(time.Until(next))
	}
	c.say("", "All published; waiting for every transport to catch up…")
	deadline := time.Now().Add(15 * time.Second)
	for !run.allIn(n) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	for _, l := range run.lanes {
		l.sub.Close()
	}
	wg.Wait()
	render()
	lost, dup := run.lostDup()
	if lost == 0 && dup == 0 {
		c.say("ok", "Finished: every transport delivered all "+strconv.Itoa(n)+" messages exactly once, in order.")
		return nil
	}
	c.say("bad", "Finished with "+strconv.Itoa(lost)+" lost and "+strconv.Itoa(dup)+" duplicated.")
	return nil
}

// follow reads one lane's subscription.
func (l *lane) follow(ctx context.Context, run *raceRun) {
	for m, err := range l.sub.All(ctx) {
		if err != nil {
			if !errors.Is(err, comet.ErrClosed) && ctx.Err() == nil {
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
			}
			return
		}
		var d struct{ Seq int }
		if json.Unmarshal(m.Data, &d) != nil || d.Seq == 0 {
			continue
		}
		now := time.Now()
		run.mu.Lock()
		sent, ok := run.sent[d.Seq]
		run.mu.Unlock()
		env, _ := json.Marshal(m)
		l.mu.Lock()
		l.got[d.Seq]++
		if ok && l.got[d.Seq] == 1 {
			ms := float64(now.Sub(sent).Microseconds()) / 1000
			l.lat = append(l.lat, ms)
			l.latBySeq[d.Seq] = ms
		}
		l.estBytes += frameSize(l.name, m, len(env))
		l.mu.Unlock()
	}
}

// frameSize is the size of one envelope on the wire for the streaming
// transports (see the wire format in package server/wire).
func frameSize(transport string, m comet.Message, env int) int64 {
	switch transport {
	case "sse":
		return int64(len("id: ") + len(m.Cursor().String()) + 1 + len("data: ") + env + 2)
	case "stream":
		return int64(env + 1)
	case "ws":
		if env < 126 {
			return int64(env + 2)
		}
		return int64(env + 4)
	}
	return int64(env)
}

func (run *raceRun) publishedCount() int {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.published
}

func (run *raceRun) allIn(n int) bool {
	for _, l := range run.lanes {
		l.mu.Lock()
		done := len(l.got) >= n || l.err != nil
		l.mu.Unlock()
		if !done {
			return false
		}
	}
	return true
}

// lostDup sums, over the lanes, the published messages not received and
// the extra deliveries.
func (run *raceRun) lostDup() (lost, dup int) {
	n := run.publishedCount()
	for _, l := range run.lanes {
		l.mu.Lock()
		for seq := 1; seq <= n; seq++ {
			switch k := l.got[seq]; {
			case k == 0:
				lost++
			case k > 1:
				dup += k - 1
			}
		}
		l.mu.Unlock()
	}
	return lost, dup
}

func (run *raceRun) render(totals dom.HTMLElement) {
	n := run.publishedCount()
	var lostAll, dupAll int
	for _, l := range run.lanes {
		l.mu.Lock()
		// Lost so far: a gap below the newest message this lane has.
		maxSeq, recv, dup := 0, 0, 0
		for seq, k := range l.got {
			maxSeq = max(maxSeq, seq)
			recv++
			dup += k - 1
		}
		lost := 0
		for seq := 1; seq < maxSeq; seq++ {
			if l.got[seq] == 0 {
				lost++
			}
		}
		lat := slices.Clone(l.lat)
		reqs, wire, est, err := l.reqs, l.wire, l.estBytes, l.err
		l.mu.Unlock()
		lostAll += lost
		dupAll += dup
		stats := l.sub.Stats()
		l.cells["recv"].SetTextContent(strconv.Itoa(recv) + " / " + strconv.Itoa(n))
		l.cells["lost"].SetTextContent(strconv.Itoa(lost))
		l.cells["dup"].SetTextContent(strconv.Itoa(dup))
		l.cells["p50"].SetTextContent(msText(percentile(lat, 50)))
		l.cells["p95"].SetTextContent(msText(percentile(lat, 95)))
		switch l.name {
		case "poll", "longpoll":
			l.cells["reqs"].SetTextContent(strconv.Itoa(reqs))
			if recv > 0 && wire > 0 {
				l.cells["bytes"].SetTextContent(strconv.FormatInt(wire/int64(recv), 10))
			}
		default:
			l.cells["reqs"].SetTextContent(strconv.Itoa(1 + stats.Reconnects))
			if recv > 0 {
				l.cells["bytes"].SetTextContent("≈" + strconv.FormatInt(est/int64(recv), 10))
			}
		}
		if err != nil {
			l.cells["recv"].SetTextContent("failed: " + strings.TrimPrefix(plain(err), "Error: "))
		}
	}
	totals.SetTextContent("Published " + strconv.Itoa(n) + " · lost " + strconv.Itoa(lostAll) + " · duplicated " + strconv.Itoa(dupAll))
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	i := int(math.Ceil(p/100*float64(len(xs)))) - 1
	return xs[max(i, 0)]
}

func msText(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "–"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

// publish posts one message to topic and returns its cursor.
func publish(ctx context.Context, topic string, data any) (string, error) {
	resp, err := xhr.Send(ctx, &xhr.Request{
		Method: "POST", URL: "/realtime/publish", ResponseType: xhr.ResponseJSON,
		Body: xhr.JSON{Value: map[string]any{"topic": topic, "data": data}},
	})
	if err = checked(resp, err); err != nil {
		return "", err
	}
	var out struct{ Cursor string }
	if err := resp.JSON(&out); err != nil {
		return "", err
	}
	return out.Cursor, nil
}

// watchRequests counts the finished HTTP requests of the polling lanes
// and their bytes, from Resource Timing. The observer's callback only
// copies numbers out.
func (run *raceRun) watchRequests() (stop func()) {
	ctor, ok := jsutil.Global("PerformanceObserver")
	if !ok {
		return func() {}
	}
	byName := map[string]*lane{}
	for _, l := range run.lanes {
		byName[l.name] = l
	}
	cb := jsutil.FuncOf(func(_ js.Value, args []js.Value) any {
		entries := args[0].Call("getEntries")
		for i := 0; i < entries.Length(); i++ {
			e := entries.Index(i)
			u := e.Get("name").String()
			if !strings.Contains(u, "topic="+run.topic) {
				continue
			}
			path := u[strings.Index(u, "/realtime/")+len("/realtime/"):]
			name, _, _ := strings.Cut(path, "?")
			l := byName[name]
			if l == nil || (name != "poll" && name != "longpoll") {
				continue
			}
			l.mu.Lock()
			l.reqs++
			l.wire += int64(e.Get("transferSize").Float())
			l.mu.Unlock()
		}
		return nil
	})
	obs, err := jsutil.New(ctor, cb.Value)
	if err == nil {
		init := js.Global().Get("Object").New()
		init.Set("type", "resource")
		_, err = jsutil.Call(obs, "observe", init)
	}
	if err != nil {
		cb.Release()
		return func() {}
	}
	return func() {
		jsutil.Call(obs, "disconnect")
		cb.Release()
	}
}

// raceChart draws each lane's latency per message as an SVG line, on a
// log scale from 0.1 ms to 10 s.
type raceChart struct {
	root  dom.HTMLElement
	svg   dom.Element
	lines map[string]dom.Element
}

const (
	svgNS          = "http://www.w3.org/2000/svg"
	chartW, chartH = 600.0, 180.0
	chartLeft      = 44.0
)

func newRaceChart() *raceChart {
	ch := &raceChart{lines: map[string]dom.Element{}}
	ch.svg = doc.CreateElementNS(svgNS, "svg")
	ch.svg.SetAttribute("viewBox", "0 0 600 200")
	ch.svg.SetAttribute("role", "img")
	ch.svg.SetAttribute("aria-label", "Latency of each message, per transport, on a log scale")
	ch.svg.SetAttribute("class", "chart")
	ch.svg.SetID("race-chart")
	ch.root = el("figure", "chart-box")
	ch.root.AppendChild(ch.svg)
	ch.root.AppendChild(el("figcaption", "muted small", "Latency per message (log scale)."))
	return ch
}

func svgEl(tag string, attrs ...string) dom.Element {
	e := doc.CreateElementNS(svgNS, tag)
	for i := 0; i+1 < len(attrs); i += 2 {
		e.SetAttribute(attrs[i], attrs[i+1])
	}
	return e
}

func chartY(ms float64) float64 {
	v := math.Log10(max(ms, 0.1)) // -1 … 4
	return chartH - (v+1)/5*chartH + 5
}

func (ch *raceChart) reset(lanes []*lane) {
	ch.svg.SetInnerHTML("")
	for _, g := range []struct {
		ms    float64
		label string
	}{{1, "1 ms"}, {10, "10 ms"}, {100, "100 ms"}, {1000, "1 s"}} {
		y := strconv.FormatFloat(chartY(g.ms), 'f', 1, 64)
		ch.svg.AppendChild(svgEl("line", "x1", strconv.Itoa(int(chartLeft)), "x2", "600", "y1", y, "y2", y, "class", "grid"))
		t := svgEl("text", "x", "2", "y", y, "class", "axis")
		t.SetTextContent(g.label)
		ch.svg.AppendChild(t)
	}
	for i, l := range lanes {
		line := svgEl("polyline", "class", "lane lane-"+l.name, "points", "")
		ch.svg.AppendChild(line)
		ch.lines[l.name] = line
		x := strconv.Itoa(int(chartLeft) + i*108)
		ch.svg.AppendChild(svgEl("rect", "x", x, "y", "191", "width", "10", "height", "4", "class", "key lane-"+l.name))
		t := svgEl("text", "x", strconv.Itoa(int(chartLeft)+i*108+14), "y", "197", "class", "axis")
		t.SetTextContent(l.label)
		ch.svg.AppendChild(t)
	}
}

func (ch *raceChart) draw(lanes []*lane, published int) {
	if published == 0 {
		return
	}
	for _, l := range lanes {
		l.mu.Lock()
		var pts strings.Builder
		for seq := 1; seq <= published; seq++ {
			ms, ok := l.latBySeq[seq]
			if !ok {
				continue
			}
			x := chartLeft + (chartW-chartLeft)*float64(seq-1)/float64(max(published-1, 1))
			pts.WriteString(strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(chartY(ms), 'f', 1, 64) + " ")
		}
		l.mu.Unlock()
		if line := ch.lines[l.name]; line != nil {
			line.SetAttribute("points", pts.String())
		}
	}
}
