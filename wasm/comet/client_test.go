//go:build js && wasm

package comet

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
)

// fast are the transports with the short waits of the tests.
func fastTransports() []Transport {
	d := 20 * time.Millisecond
	return []Transport{WS{}, SSE{Retry: d}, Stream{}, LongPoll{Backoff: d, MaxFailures: 1000},
		Poll{Interval: 20 * time.Millisecond, Backoff: d, MaxFailures: 1000}}
}

// transportByName returns the fast transport called name.
func transportByName(name string) Transport {
	for _, t := range fastTransports() {
		if t.Name() == name {
			return t
		}
	}
	panic(name)
}

// waitConfirmed waits until every subscription knows its start cursor.
func waitConfirmed(t *testing.T, subs ...*Subscription) {
	t.Helper()
	for _, s := range subs {
		waitStarted(t, s)
	}
}

// readN reads n messages of s and checks their data are first..first+n-1
// and their offsets consecutive.
func readN(ctx context.Context, s *Subscription, first, n int) error {
	return readCount(ctx, s, first, n, nil)
}

// readCount is readN, counting the messages read in got.
func readCount(ctx context.Context, s *Subscription, first, n int, got *atomic.Int64) error {
	prev := s.Cursor()
	for i := 0; i < n; i++ {
		m, err := s.Next(ctx)
		if errors.Is(err, ErrUnconfirmed) {
			i--
			continue
		}
		if err != nil {
			return errors.New(s.topic + ": after " + strconv.Itoa(i) + " messages: " + err.Error())
		}
		if m.Epoch != prev.Epoch || m.Offset != prev.Offset+1 {
			return errors.New(s.topic + ": offset " + m.Cursor().String() + " after " + prev.String())
		}
		if v := dataValue(m.Data); v != first+i {
			return errors.New(s.topic + ": data " + string(m.Data) + ", want " + strconv.Itoa(first+i))
		}
		prev = m.Cursor()
		if got != nil {
			got.Add(1)
		}
	}
	return nil
}

// dataValue is the number in data: N, or {"i":N,...}.
func dataValue(data []byte) int {
	if v, err := strconv.Atoi(string(data)); err == nil {
		return v
	}
	var o struct{ I *int }
	if json.Unmarshal(data, &o) != nil || o.I == nil {
		return -1
	}
	return *o.I
}

// plainXHRs sends n concurrent GETs to the page's origin and returns the
// first error: a page whose connections are all held by streams starves
// them.
func plainXHRs(t *testing.T, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, n)
	for range n {
		go func() {
			resp, err := xhr.Send(ctx, &xhr.Request{URL: testenv.ServerURL(t) + "/healthz", ResponseType: xhr.ResponseText})
			if err == nil && resp.Status != 200 {
				err = errors.New("status " + strconv.Itoa(resp.Status))
			}
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// TestClientTwentyTopics: 20 topics on one client over each transport
// alone: one connection, every message exactly once, and 5 concurrent
// plain XHRs of the page still get through.
func TestClientTwentyTopics(t *testing.T) {
	const topics, per = 20, 50
	for _, name := range []string{"ws", "sse", "stream", "longpoll", "poll"} {
		t.Run(name, func(t *testing.T) {
			if name == "stream" {
				testenv.BrowserOnly(t, noStreamInNode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)},
				Heartbeat: time.Second, Backoff: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			subs := make([]*Subscription, topics)
			for i := range subs {
				if subs[i], err = c.Subscribe(ctx, newTopic("twenty-"+name), nil); err != nil {
					t.Fatal(err)
				}
			}
			waitConfirmed(t, subs...)
			errc := make(chan error, topics)
			for _, s := range subs {
				go func() { errc <- readN(ctx, s, 0, per) }()
			}
			for i := 0; i < per; i += 10 {
				for _, s := range subs {
					publish(t, s.topic, i, 10)
				}
			}
			if err := plainXHRs(t, 5); err != nil {
				t.Errorf("plain XHRs beside the session: %v", err)
			}
			for range subs {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			st := c.Stats()
			t.Logf("%s: %d topics × %d messages exactly once; connections opened %d, most open at once %d, duplicates skipped %d, active %s",
				name, topics, per, st.Connections, st.MaxOpen, st.Duplicates, c.Active())
			if st.MaxOpen != 1 {
				t.Errorf("the client held %d connections at once, want 1", st.MaxOpen)
			}
			if (name == "ws" || name == "sse" || name == "stream") && st.Connections != 1 {
				t.Errorf("%d connections opened, want 1 long-lived one", st.Connections)
			}
			if c.Active() != name || c.Err() != nil {
				t.Errorf("active %q, err %v", c.Active(), c.Err())
			}
			for _, s := range subs[:10] { // half the topics leave, the rest goes on
				s.Close()
			}
			for _, s := range subs[10:] {
				go func() { errc <- readN(ctx, s, per, 5) }()
				publish(t, s.topic, per, 5)
			}
			for range subs[10:] {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			if n := c.Stats().Connections; (name == "ws" || name == "sse" || name == "stream") && n != 1 {
				t.Errorf("removing topics opened a new connection: %d", n)
			}
		})
	}
}

// TestClientFrom: a subscription starts now, at the oldest retained
// message, or after a cursor.
func TestClientFrom(t *testing.T) {
	for _, name := range []string{"ws", "sse", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := newTopic("from-" + name)
			publish(t, topic, 0, 5)
			c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}, Heartbeat: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			oldest, _ := c.Subscribe(ctx, topic, &SubscribeOptions{Oldest: true})
			waitConfirmed(t, oldest)
			if err := readN(ctx, oldest, 0, 5); err != nil {
				t.Fatal("oldest: ", err)
			}
			after, _ := c.Subscribe(ctx, topic, &SubscribeOptions{From: Cursor{Epoch: oldest.Cursor().Epoch, Offset: 3}})
			now, _ := c.Subscribe(ctx, topic, nil)
			waitConfirmed(t, now)
			if now.Cursor() != oldest.Cursor() {
				t.Errorf("now starts after %v, want the head %v", now.Cursor(), oldest.Cursor())
			}
			if err := readN(ctx, after, 3, 2); err != nil {
				t.Fatal("after a cursor: ", err)
			}
			publish(t, topic, 5, 1)
			for _, s := range []*Subscription{oldest, after, now} {
				if err := readN(ctx, s, 5, 1); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestClientGap: a cursor before the retained history ends that
// subscription with a *GapError; the others of the session go on.
func TestClientGap(t *testing.T) {
	for _, name := range []string{"ws", "sse", "poll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic, other := newTopic("cgap"), newTopic("cgap-other")
			start := headOf(t, topic)
			publish(t, topic, 0, 1100) // the server keeps 1024
			c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}, Heartbeat: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			o, _ := c.Subscribe(ctx, other, nil)
			waitConfirmed(t, o)
			s, _ := c.Subscribe(ctx, topic, &SubscribeOptions{From: start})
			_, err = s.Next(ctx)
			var gap *GapError
			if !errors.As(err, &gap) || !errors.Is(err, ErrGap) || gap.Reason != "evicted" || gap.Resume.Offset != 76 {
				t.Fatalf("evicted: %v", err)
			}
			go publish(t, other, 0, 3)
			if err := readN(ctx, o, 0, 3); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fetchText sends one request with fetch (its own connection pool entry
// is the page origin's, like XHR) and returns the body.
func fetchText(t *testing.T, method, u, body string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := &xhr.Request{Method: method, URL: u, ResponseType: xhr.ResponseText}
	if body != "" {
		req.Body = body
		req.Header = xhr.Header{"Content-Type": {"application/json"}}
	}
	resp, err := xhr.Send(ctx, req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if resp.Status != 200 {
		t.Fatalf("%s %s: status %d: %s", method, u, resp.Status, resp.Text())
	}
	return resp.Text()
}

// block refuses a session transport at the server for d (test hook).
func block(t *testing.T, transport string, d time.Duration) {
	fetchText(t, "POST", testenv.ServerURL(t)+"/test/realtime/block", `{"transport":"`+transport+`","ms":`+strconv.FormatInt(d.Milliseconds(), 10)+`}`)
}

type proxyCounts struct{ Dropped, Reset, Truncated int }

func proxyCuts(t *testing.T) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := jsutil.Await(ctx, js.Global().Call("fetch", testenv.FaultStatsURL(t)))
	if err != nil {
		t.Fatal(err)
	}
	text, err := jsutil.Await(ctx, resp.Call("text"))
	if err != nil {
		t.Fatal(err)
	}
	var p proxyCounts
	json.Unmarshal([]byte(text.String()), &p)
	return p.Dropped + p.Reset + p.Truncated
}

// TestClientPublishExactlyOnce: 2,000 publishes from the page through the
// fault proxy, which cuts connections at random, while WebSocket is
// blocked now and then so the client switches transport: the topic holds
// every message once, in the order of the publishes.
func TestClientPublishExactlyOnce(t *testing.T) {
	const n = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	topic := newTopic("pub-once")
	// The reader follows the topic directly (no faults), from its head.
	reader, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{WS{}, SSE{}}, Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	rs, _ := reader.Subscribe(ctx, topic, &SubscribeOptions{Oldest: true})
	waitConfirmed(t, rs)
	readErr := make(chan error, 1)
	go func() { readErr <- readN(ctx, rs, 0, n) }()

	cutsBefore := proxyCuts(t)
	var mu sync.Mutex
	var path []string
	c, err := Connect(ctx, &Options{URL: testenv.FaultyServerURL(t), Transports: fastTransports(),
		Heartbeat: 500 * time.Millisecond, Backoff: 20 * time.Millisecond, ConfirmTimeout: 3 * time.Second, Probe: 200 * time.Millisecond,
		OnSwitch: func(s Switch) { mu.Lock(); path = append(path, s.To); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The publisher follows the topic too, through the same faults: its
	// messages come down its own connection, which the proxy cuts.
	own, _ := c.Subscribe(ctx, topic, &SubscribeOptions{Oldest: true})
	waitConfirmed(t, own)
	ownErr := make(chan error, 1)
	var ownGot atomic.Int64
	go func() { ownErr <- readCount(ctx, own, 0, n, &ownGot) }()
	pad := strings.Repeat("x", 500)
	var prev Cursor
	for i := range n {
		// The server keeps 1,024 messages: the publisher's own reader, which
		// the faults slow down, must not fall further behind than that.
		for int64(i)-ownGot.Load() > 600 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		if i%400 == 200 { // WebSocket refused for a while: fall back, then come back up
			block(t, "ws", 700*time.Millisecond)
		}
		cur, err := c.Publish(ctx, topic, "", []byte(`{"i":`+strconv.Itoa(i)+`,"pad":"`+pad+`"}`))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if !prev.IsZero() && (cur.Epoch != prev.Epoch || cur.Offset != prev.Offset+1) {
			t.Fatalf("publish %d stored at %v after %v: a repeat was appended or one is missing", i, cur, prev)
		}
		prev = cur
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	if err := <-ownErr; err != nil {
		t.Fatal("the publisher's own subscription: ", err)
	}
	// Nothing after the last one: no late repeat was appended.
	publish(t, topic, n, 1)
	for _, s := range []*Subscription{rs, own} {
		if err := readN(ctx, s, n, 1); err != nil {
			t.Fatal("after the publishes: ", err)
		}
	}
	st := c.Stats()
	cuts := proxyCuts(t) - cutsBefore
	mu.Lock()
	t.Logf("publish: %d publishes, %d connections cut by the proxy, %d switches (%d back up), stored %d, duplicates 0 (topic read by a clean client and by the publisher through the faults); %d retries, %d answered as repeats, %d lines skipped on resume; transports used %s",
		n, cuts, st.Switches, st.Upgrades, prev.Offset, st.Retries, st.Repeats, st.Duplicates, pathSummary(path))
	mu.Unlock()
	if cuts < 50 {
		t.Errorf("only %d cuts", cuts)
	}
	if st.Switches < 2 {
		t.Errorf("only %d switches", st.Switches)
	}
}

// TestClientPublishForbidden: a publish to a server topic is refused with
// ErrForbidden, on WebSocket (a "pub" command) and on the HTTP publish; a
// subscription to an internal topic ends with ErrForbidden (never silence)
// while the others of the session go on.
func TestClientPublishForbidden(t *testing.T) {
	for _, name := range []string{"ws", "sse", "poll"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, _ := c.Subscribe(ctx, newTopic("forbidden"), nil)
			waitConfirmed(t, s)
			internal, _ := c.Subscribe(ctx, "_internal", nil)
			if _, err := internal.Next(ctx); !errors.Is(err, ErrForbidden) {
				t.Fatalf("subscribe to an internal topic: %v", err)
			}
			_, err = c.Publish(ctx, "clock", "", []byte(`1`))
			var ce *CommandError
			if !errors.Is(err, ErrForbidden) || !errors.As(err, &ce) {
				t.Fatalf("publish to a server topic: %v", err)
			}
			if _, err := c.Publish(ctx, s.topic, "", []byte(`{`)); !errors.Is(err, ErrData) {
				t.Errorf("bad JSON: %v", err)
			}
			if _, err := c.Publish(ctx, s.topic, "_x", []byte(`1`)); !errors.Is(err, ErrType) {
				t.Errorf("reserved type: %v", err)
			}
			if cur, err := c.Publish(ctx, s.topic, "note", []byte(`"ok"`)); err != nil || cur.IsZero() {
				t.Fatalf("publish after a refusal: %v %v", cur, err)
			}
			m, err := s.Next(ctx)
			if err != nil || m.Type != "note" || string(m.Data) != `"ok"` {
				t.Fatalf("the message: %+v %v", m, err)
			}
		})
	}
}

// TestClientPresence: two clients on a topic see each other join and
// leave, and Who lists both.
func TestClientPresence(t *testing.T) {
	for _, name := range []string{"ws", "sse", "stream"} {
		t.Run(name, func(t *testing.T) {
			if name == "stream" {
				testenv.BrowserOnly(t, noStreamInNode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			topic := newTopic("presence")
			opts := &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)}}
			a, err := Connect(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := Connect(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			sa, _ := a.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			waitConfirmed(t, sa)
			sb, _ := b.Subscribe(ctx, topic, &SubscribeOptions{Presence: true})
			waitConfirmed(t, sb)
			bm := b.Member()
			if bm.Client == "" {
				t.Fatal("b has no member identity after its hello")
			}
			// a's own join may come first: the session is a member too.
			ev, err := sa.NextPresence(ctx)
			if err == nil && ev.Member.Client == a.Member().Client {
				ev, err = sa.NextPresence(ctx)
			}
			if err != nil || !ev.Join || ev.Member.Client != bm.Client {
				t.Fatalf("a sees %+v %v, want b (%s) joining", ev, err, bm.Client)
			}
			members, err := sa.Who(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, m := range members {
				seen[m.Client] = true
			}
			if len(members) != 2 || !seen[bm.Client] || !seen[a.Member().Client] {
				t.Fatalf("who: %+v, want a and b", members)
			}
			sb.Close()
			ev, err = sa.NextPresence(ctx)
			if err != nil || ev.Join || ev.Member.Client != bm.Client {
				t.Fatalf("a sees %+v %v, want b leaving", ev, err)
			}
			t.Logf("%s: join, who (%d members), leave", name, len(members))
		})
	}
}

// TestClientUpgradeBack: WebSocket is refused for 2 s; the client falls
// back, then returns to WebSocket once it is allowed again, and every
// message published all along arrives exactly once.
func TestClientUpgradeBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var sw []Switch
	var back time.Time
	c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: fastTransports(),
		Heartbeat: 500 * time.Millisecond, Backoff: 20 * time.Millisecond, ConfirmTimeout: 2 * time.Second, Probe: 250 * time.Millisecond,
		OnSwitch: func(s Switch) {
			mu.Lock()
			sw = append(sw, s)
			if s.To == "ws" && s.From != "" {
				back = time.Now()
			}
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := newTopic("upgrade")
	s, _ := c.Subscribe(ctx, topic, nil)
	waitConfirmed(t, s)
	const n = 300
	readErr := make(chan error, 1)
	go func() { readErr <- readN(ctx, s, 0, n) }()
	var unblocked time.Time
	for i := 0; i < n; i += 5 {
		if i == 50 {
			block(t, "ws", 2*time.Second)
			unblocked = time.Now().Add(2 * time.Second)
		}
		publish(t, topic, i, 5)
		time.Sleep(25 * time.Millisecond)
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	for range 400 {
		if c.Active() == "ws" && c.Stats().Upgrades > 0 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var path []string
	for _, s := range sw {
		path = append(path, s.To)
	}
	st := c.Stats()
	if c.Active() != "ws" || st.Upgrades == 0 {
		t.Fatalf("active %s after the block, switches %s", c.Active(), strings.Join(path, ">"))
	}
	t.Logf("upgrade back: %s; back on ws %v after the block ended; %d messages exactly once; %d probes, %d duplicates skipped",
		strings.Join(path, ">"), back.Sub(unblocked).Round(time.Millisecond), n, st.Probes, st.Duplicates)
}

// TestClientEightTabs: 8 clients of one origin on SSE alone, more than
// the 6 connections per origin a browser opens over HTTP/1.1: each one
// either delivers its topic or reports an *UnconfirmedError saying why,
// none waits silently; once the first ones close, the others connect and
// deliver everything.
func TestClientEightTabs(t *testing.T) {
	const tabs = 8
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type tab struct {
		c        *Client
		s        *Subscription
		stalled  error
		received int
	}
	ts := make([]*tab, tabs)
	for i := range ts {
		c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{SSE{}},
			Heartbeat: time.Second, ConfirmTimeout: 2 * time.Second, Backoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s, _ := c.Subscribe(ctx, newTopic("tab"+strconv.Itoa(i)), nil)
		ts[i] = &tab{c: c, s: s}
	}
	// Publishing goes to the second origin: the page origin's connections
	// may all be taken.
	pub := func(topic string, first, n int) {
		fetchText(t, "POST", testenv.SecondURL(t)+"/realtime/publish", testenv.PublishBody(topic, first, n))
	}
	// Each tab is either confirmed, or told it is not, within the bound.
	var wg sync.WaitGroup
	for _, tb := range ts {
		wg.Go(func() {
			for range 400 {
				if !tb.s.Cursor().IsZero() {
					return
				}
				wctx, wcancel := context.WithTimeout(ctx, 25*time.Millisecond)
				_, err := tb.s.Next(wctx)
				wcancel()
				if errors.Is(err, ErrUnconfirmed) {
					tb.stalled = err
					return
				}
			}
		})
	}
	wg.Wait()
	var live, stalled []*tab
	for i, tb := range ts {
		switch {
		case tb.stalled != nil:
			stalled = append(stalled, tb)
			if !strings.Contains(tb.stalled.Error(), "6 connections per origin") {
				t.Errorf("tab %d: the error does not say why: %v", i, tb.stalled)
			}
		case !tb.s.Cursor().IsZero():
			live = append(live, tb)
		default:
			t.Fatalf("tab %d waits silently", i)
		}
	}
	t.Logf("%d tabs: %d connected, %d told why not: %v", tabs, len(live), len(stalled), func() error {
		if len(stalled) > 0 {
			return stalled[0].stalled
		}
		return nil
	}())
	if testenv.InBrowser() && len(live) > 6 {
		t.Errorf("%d SSE sessions on one HTTP/1.1 origin", len(live))
	}
	for _, tb := range live {
		pub(tb.s.topic, 0, 20)
		if err := readN(ctx, tb.s, 0, 20); err != nil {
			t.Fatal(err)
		}
		tb.c.Close()
	}
	// With the first tabs gone, the others get their connections.
	for _, tb := range stalled {
		for tb.s.Cursor().IsZero() {
			wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err := tb.s.Next(wctx)
			wcancel()
			if err != nil && !errors.Is(err, ErrUnconfirmed) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatal("a stalled tab never connected after the others left")
			}
		}
		pub(tb.s.topic, 0, 20)
		if err := readN(ctx, tb.s, 0, 20); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientBadInput: typed errors, no connection needed.
func TestClientBadInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Connect(ctx, &Options{URL: "http://127.0.0.1:1", Transports: []Transport{fakeTransport{}}}); err == nil {
		t.Error("Connect with a transport that cannot carry a session")
	}
	if _, err := Connect(ctx, &Options{URL: "http://127.0.0.1:1", From: Cursor{Epoch: "a", Offset: 1}}); err == nil {
		t.Error("Connect with Options.From")
	}
	c, err := Connect(ctx, &Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "a b", nil); !errors.Is(err, ErrTopic) {
		t.Errorf("bad topic: %v", err)
	}
	if _, err := c.Publish(ctx, "a b", "", []byte(`1`)); !errors.Is(err, ErrTopic) {
		t.Errorf("publish to a bad topic: %v", err)
	}
	c.Close()
	if _, err := c.Subscribe(ctx, "a", nil); !errors.Is(err, ErrClientClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := c.Publish(ctx, "a", "", []byte(`1`)); !errors.Is(err, ErrClientClosed) {
		t.Errorf("publish after Close: %v", err)
	}
}

type fakeTransport struct{}

func (fakeTransport) Name() string                          { return "fake" }
func (fakeTransport) Run(ctx context.Context, f Feed) error { return errors.New("fake") }

// TestClientLeaks connects, subscribes, publishes and closes 100 times on
// every transport: every js.Func and JS reference is released.
func TestClientLeaks(t *testing.T) {
	base := testenv.MeasureRefs()
	names := []string{"ws", "sse", "longpoll", "poll"}
	if testenv.InBrowser() {
		names = append(names, "stream")
	}
	topic := newTopic("cleak")
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		c, err := Connect(ctx, &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(names[i%len(names)])}})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := c.Subscribe(ctx, topic, nil)
		if i%10 == 0 {
			waitConfirmed(t, s)
			if _, err := c.Publish(ctx, topic, "", []byte(`1`)); err != nil {
				t.Fatal(err)
			}
		}
		if i%2 == 0 {
			c.Close()
		} else {
			cancel() // the context's end closes the client and its subscriptions
			if _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) && err != nil && !errors.Is(err, ErrUnconfirmed) {
				t.Fatalf("Next after the context ended: %v", err)
			}
			c.Close()
		}
		cancel()
		if _, err := s.Next(context.Background()); err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	}
	testenv.CheckRefs(t, base, 10)
}

// pathSummary counts how often each transport became active.
func pathSummary(path []string) string {
	n := map[string]int{}
	for _, p := range path {
		n[p]++
	}
	var b strings.Builder
	for _, name := range []string{"ws", "sse", "stream", "longpoll", "poll"} {
		if n[name] > 0 {
			b.WriteString(" " + name + "×" + strconv.Itoa(n[name]))
		}
	}
	return strings.TrimSpace(b.String())
}
