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
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// blockCount refuses a session transport for d and returns how many of
// its connections were open at the server (and are now ended).
func blockCount(t *testing.T, transport string, d time.Duration) int {
	var r struct{ Blocked int }
	body := fetchText(t, "POST", testenv.ServerURL(t)+"/test/realtime/block", `{"transport":"`+transport+`","ms":`+strconv.FormatInt(d.Milliseconds(), 10)+`}`)
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(body, err)
	}
	return r.Blocked
}

// wsOpenAtServer counts the session WebSocket connections open at the
// server, without ending them (a block of 0 ms ends none; so block for a
// moment and count). It ends them: call it where a drop is wanted.
func wsOpenAtServer(t *testing.T) int { return blockCount(t, "ws", time.Millisecond) }

// sharedClient returns the one Client all subs share, or fails.
func sharedClient(t *testing.T, subs ...*Subscription) *Client {
	t.Helper()
	c := subs[0].client
	for i, s := range subs {
		if s.client == nil || s.client != c {
			t.Fatalf("subscription %d is not on the shared client", i)
		}
	}
	return c
}

// TestSubscribeOneConnection: 8 and 20 topics through the package-level
// Subscribe share one connection, and each gets every message exactly
// once, in order, across a drop with a switch of transport (WebSocket is
// refused at the server: its connection ends and the client falls back to
// SSE) and a drop of the SSE connection.
func TestSubscribeOneConnection(t *testing.T) {
	for _, topics := range []int{8, 20} {
		t.Run(strconv.Itoa(topics), func(t *testing.T) {
			const per = 60 // messages per topic, in 3 phases
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var mu sync.Mutex
			var path []string
			opts := &Options{URL: testenv.ServerURL(t), Transports: fastTransports()[:2],
				Heartbeat: 500 * time.Millisecond, Backoff: 20 * time.Millisecond, Probe: time.Minute,
				OnSwitch: func(s Switch) {
					mu.Lock()
					path = append(path, s.To)
					mu.Unlock()
				}}
			subs := make([]*Subscription, topics)
			for i := range subs {
				var err error
				if subs[i], err = Subscribe(ctx, newTopic("one-"+strconv.Itoa(i)), opts); err != nil {
					t.Fatal(err)
				}
				defer subs[i].Close()
			}
			c := sharedClient(t, subs...)
			if n := pagePool.shared(); n != 1 {
				t.Fatalf("%d shared clients, want 1", n)
			}
			waitConfirmed(t, subs...)
			errc := make(chan error, topics)
			for _, s := range subs {
				go func() { errc <- readN(ctx, s, 0, per) }()
			}
			pub := func(first, n int) {
				for _, s := range subs {
					publish(t, s.topic, first, n)
				}
			}
			pub(0, per/3)
			atServer := blockCount(t, "ws", 2*time.Second) // the drop: WebSocket refused for a while
			pub(per/3, per/3)
			for c.Active() != "sse" && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			sseAtServer := blockCount(t, "sse", 50*time.Millisecond) // a second drop, on SSE
			pub(2*per/3, per-2*per/3)
			for range subs {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			blockCount(t, "ws", 0) // lifted for the next tests
			if err := plainXHRs(t, 5); err != nil {
				t.Errorf("plain XHRs beside the subscriptions: %v", err)
			}
			st := c.Stats()
			dups := 0
			for _, s := range subs {
				dups += s.Stats().Duplicates
			}
			mu.Lock()
			t.Logf("%d topics × %d messages via Subscribe, exactly once: 1 shared client; at the server %d WebSocket and then %d SSE connection open; connections opened %d, most open at once %d, switches %d (OnSwitch of all topics: %s), duplicate lines skipped %d",
				topics, per, atServer, sseAtServer, st.Connections, st.MaxOpen, st.Switches, pathSummary(path), dups)
			mu.Unlock()
			if atServer != 1 || sseAtServer != 1 {
				t.Errorf("the server had %d WebSocket and %d SSE connections of the page open, want 1 each", atServer, sseAtServer)
			}
			if st.MaxOpen != 1 {
				t.Errorf("the page held %d connections at once, want 1", st.MaxOpen)
			}
			if st.Switches < 1 || len(path) < 2*topics {
				t.Errorf("switches %+v; OnSwitch calls %d for %d topics", st, len(path), topics)
			}
		})
	}
}

// TestSubscribeSlowReader: on one shared connection, a topic whose reader
// never calls Next does not stall the others; when it reads at last, it
// gets every message once, in order (its topic left the connection when
// its queue was full and came back from its cursor).
func TestSubscribeSlowReader(t *testing.T) {
	for _, name := range []string{"ws", "sse", "longpoll"} {
		t.Run(name, func(t *testing.T) {
			const n, queue = 300, 16
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			opts := &Options{URL: testenv.ServerURL(t), Transports: []Transport{transportByName(name)},
				Heartbeat: time.Second, Backoff: 20 * time.Millisecond, QueueSize: queue}
			slow, err := Subscribe(ctx, newTopic("slow"), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			fast := make([]*Subscription, 3)
			for i := range fast {
				if fast[i], err = Subscribe(ctx, newTopic("fast"), opts); err != nil {
					t.Fatal(err)
				}
				defer fast[i].Close()
			}
			c := sharedClient(t, append(fast, slow)...)
			waitConfirmed(t, append(fast, slow)...)
			errc := make(chan error, len(fast))
			var got atomic.Int64
			for _, s := range fast {
				go func() { errc <- readCount(ctx, s, 0, n, &got) }()
			}
			for i := 0; i < n; i += 50 {
				publish(t, slow.topic, i, 50)
				for _, s := range fast {
					publish(t, s.topic, i, 50)
				}
			}
			for range fast {
				if err := <-errc; err != nil {
					t.Fatalf("a fast topic beside a reader that does not read: %v", err)
				}
			}
			over := slow.Stats().Overflows
			if over == 0 {
				t.Fatalf("the slow topic never overflowed its queue of %d (stats %+v)", queue, slow.Stats())
			}
			if err := readN(ctx, slow, 0, n); err != nil {
				t.Fatal("the slow topic, read at last: ", err)
			}
			publish(t, slow.topic, n, 1) // and it goes on
			if err := readN(ctx, slow, n, 1); err != nil {
				t.Fatal(err)
			}
			st := slow.Stats()
			t.Logf("%s: 3 topics × %d messages read while a 4th (queue %d) was not (it overflowed %d time); then the 4th read its %d exactly once (%d overflows in all, %d re-subscriptions from its cursor, %d duplicates skipped); connections opened %d",
				name, n, queue, over, n+1, st.Overflows, st.Reconnects, st.Duplicates, c.Stats().Connections)
		})
	}
}

// TestSubscribeLastCloses: the shared connection stays while any
// Subscribe uses it, and is closed when the last one closes or its
// context ends; 50 such cycles release every js.Func and JS reference.
func TestSubscribeLastCloses(t *testing.T) {
	base := testenv.MeasureRefs()
	opts := &Options{URL: testenv.ServerURL(t), Transports: []Transport{WS{}}, Heartbeat: time.Second}
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		subs := make([]*Subscription, 3)
		sctx, scancel := context.WithCancel(ctx)
		for j := range subs {
			c := ctx
			if j == 2 {
				c = sctx // the last one ends with its context
			}
			var err error
			if subs[j], err = Subscribe(c, newTopic("last"), opts); err != nil {
				t.Fatal(err)
			}
		}
		c := sharedClient(t, subs...)
		if i%10 == 0 {
			waitConfirmed(t, subs...)
			publish(t, subs[0].topic, 0, 1)
			if err := readN(ctx, subs[0], 0, 1); err != nil {
				t.Fatal(err)
			}
			if n := wsOpenAtServer(t); n != 1 { // (a drop too; the client reconnects)
				t.Fatalf("%d WebSocket connections at the server, want 1", n)
			}
		}
		subs[0].Close()
		subs[1].Close()
		if c.isClosed() || pagePool.shared() != 1 {
			t.Fatal("the shared client closed while a subscription was on it")
		}
		scancel()
		<-c.done
		c.pubsWG.Wait()
		if _, err := subs[2].Next(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after the context ended: %v", err)
		}
		if n := pagePool.shared(); n != 0 {
			t.Fatalf("%d shared clients after the last subscription ended", n)
		}
		if st := c.Stats(); st.Open != 0 {
			t.Fatalf("%d connections still open", st.Open)
		}
		cancel()
	}
	testenv.CheckRefs(t, base, 10)
	var n struct{ Streams int }
	start := time.Now()
	for range 200 {
		json.Unmarshal([]byte(send(t, "GET", "/test/realtime/subscribers", "")), &n)
		if n.Streams == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("streams at the server: %d after %v", n.Streams, time.Since(start))
	if n := wsOpenAtServer(t); n != 0 {
		t.Errorf("%d WebSocket connections at the server after the last Close", n)
	}
}

// TestSubscribePrivate: Options.Private gets a connection of its own, and
// so do other connection settings or another Token func; the same
// settings (per-subscription options aside) share.
func TestSubscribePrivate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := Options{URL: testenv.ServerURL(t), Transports: []Transport{WS{}}, Heartbeat: time.Second}
	shared1, _ := Subscribe(ctx, newTopic("priv"), &base)
	defer shared1.Close()
	same := base
	same.QueueSize, same.From = 5, Cursor{} // per subscription: still shared
	shared2, _ := Subscribe(ctx, newTopic("priv"), &same)
	defer shared2.Close()
	private := base
	private.Private = true
	own, _ := Subscribe(ctx, newTopic("priv"), &private)
	defer own.Close()
	other := base
	other.Heartbeat = 2 * time.Second
	diff, _ := Subscribe(ctx, newTopic("priv"), &other)
	defer diff.Close()
	sharedClient(t, shared1, shared2)
	clients := map[*Client]bool{}
	for _, s := range []*Subscription{shared1, own, diff} {
		clients[s.client] = true
	}
	if len(clients) != 3 {
		t.Fatalf("%d clients for 3 different settings", len(clients))
	}
	if n := pagePool.shared(); n != 2 { // the private one is not in the pool
		t.Errorf("%d shared clients, want 2", n)
	}
	// The same Token func shares; another closure of the same code does not.
	newTok := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	a, b := base, base
	a.Token = newTok("a")
	b.Token = a.Token
	if !sameConnection(a, b) || sameConnection(a, base) {
		t.Error("the same Token func must share, and only it")
	}
	b.Token = newTok("b")
	if sameConnection(a, b) {
		t.Error("two closures of one func literal share a connection")
	}
	all := []*Subscription{shared1, shared2, own, diff}
	waitConfirmed(t, all...)
	if n := wsOpenAtServer(t); n != 3 {
		t.Errorf("%d WebSocket connections at the server, want 3", n)
	}
	for _, s := range all {
		publish(t, s.topic, 0, 2)
		if err := readN(ctx, s, 0, 2); err != nil {
			t.Fatal(err)
		}
	}
	own.Close()
	if !own.client.isClosed() || shared1.client.isClosed() {
		t.Error("closing the private subscription: its client stays open, or the shared one closed")
	}
}

// TestSubscribeCustomTransport: a Transport of the application's own runs
// the single-topic engine (SubscribeFeed), one connection per call.
func TestSubscribeCustomTransport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var runs atomic.Int64
	tr := &counting{Transport: SSE{}, runs: &runs}
	topic := newTopic("custom")
	s, err := Subscribe(ctx, topic, &Options{URL: testenv.ServerURL(t), Transports: []Transport{tr}, Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.client != nil {
		t.Fatal("a custom transport went to a session")
	}
	waitStarted(t, s)
	publish(t, topic, 0, 3)
	if err := readN(ctx, s, 0, 3); err != nil {
		t.Fatal(err)
	}
	if runs.Load() < 1 {
		t.Error("the custom transport never ran")
	}
}

type counting struct {
	Transport
	runs *atomic.Int64
}

func (c *counting) Run(ctx context.Context, f Feed) error {
	c.runs.Add(1)
	return c.Transport.Run(ctx, f)
}

// TestSubscribeFullSession: a session carries 256 topics; the 257th
// Subscribe with the same settings opens a second connection instead of
// failing.
func TestSubscribeFullSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := &Options{URL: testenv.ServerURL(t), Transports: []Transport{WS{}}, Heartbeat: time.Second}
	subs := make([]*Subscription, 260)
	for i := range subs {
		var err error
		if subs[i], err = Subscribe(ctx, newTopic("full"), opts); err != nil {
			t.Fatal(i, err)
		}
	}
	sharedClient(t, subs[:256]...)
	sharedClient(t, subs[256:]...)
	if subs[0].client == subs[256].client || pagePool.shared() != 2 {
		t.Fatalf("%d shared clients for 260 topics, want 2", pagePool.shared())
	}
	waitConfirmed(t, subs[250:]...)
	for _, s := range subs[250:] {
		publish(t, s.topic, 0, 1)
		if err := readN(ctx, s, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range subs {
		s.Close()
	}
	if n := pagePool.shared(); n != 0 {
		t.Fatalf("%d shared clients after every Close", n)
	}
}

// TestSubscribeThroughFaults: 8 topics via Subscribe through the fault
// proxy, which cuts connections at random, with every transport to fall
// back on: one shared client, each topic exactly once, in order.
func TestSubscribeThroughFaults(t *testing.T) {
	const topics, per = 8, 300
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cutsBefore := proxyCuts(t)
	opts := &Options{URL: testenv.FaultyServerURL(t), Transports: fastTransports(),
		Heartbeat: 500 * time.Millisecond, Backoff: 20 * time.Millisecond, ConfirmTimeout: 3 * time.Second, Probe: 300 * time.Millisecond}
	subs := make([]*Subscription, topics)
	for i := range subs {
		var err error
		if subs[i], err = Subscribe(ctx, newTopic("sfault"), opts); err != nil {
			t.Fatal(err)
		}
		defer subs[i].Close()
	}
	c := sharedClient(t, subs...)
	waitConfirmed(t, subs...)
	errc := make(chan error, topics)
	for _, s := range subs {
		go func() { errc <- readN(ctx, s, 0, per) }()
	}
	pad := strings.Repeat("x", 60) // bytes for the proxy to cut
	for i := 0; i < per; i += 20 {
		for _, s := range subs {
			var b strings.Builder
			b.WriteString(`{"topic":"` + s.topic + `","messages":[`)
			for j := range 20 {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"data":{"i":` + strconv.Itoa(i+j) + `,"pad":"` + pad + `"}}`)
			}
			b.WriteString(`]}`)
			send(t, "POST", "/realtime/publish", b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range subs {
		if err := <-errc; err != nil {
			for _, s := range subs {
				c.mu.Lock()
				t.Logf("%s: cur %v asked %d confirmed %d paused %v skip %d; stats %+v", s.topic, s.cur, s.askedGen, s.confirmedGen, s.paused.Load(), s.skip, s.Stats())
				c.mu.Unlock()
			}
			t.Fatalf("%v; client %+v on %s (gen %d), last error %v", err, c.Stats(), c.Active(), c.gen, c.Err())
		}
	}
	st := c.Stats()
	cuts := proxyCuts(t) - cutsBefore
	t.Logf("%d topics × %d messages via Subscribe through the fault proxy, exactly once: %d connections cut, 1 shared client, %d connections opened (most at once %d), %d switches (%d back up), %d duplicate lines skipped",
		topics, per, cuts, st.Connections, st.MaxOpen, st.Switches, st.Upgrades, st.Duplicates)
	if pagePool.shared() != 1 {
		t.Errorf("%d shared clients, want 1", pagePool.shared())
	}
	if cuts == 0 {
		t.Error("the proxy cut nothing: the test did not exercise drops")
	}
}
