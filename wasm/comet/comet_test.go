//go:build js && wasm

package comet

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
)

// noStreamInNode: xhr2 (node's XMLHttpRequest) sets responseText only
// when the response ends, so HTTP streaming cannot work there.
const noStreamInNode = "node's xhr2 exposes responseText only at the end of the response"

// send makes one request to the test server and returns the body.
func send(t *testing.T, method, path, body string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := &xhr.Request{Method: method, URL: testenv.ServerURL(t) + path, ResponseType: xhr.ResponseText}
	if body != "" {
		req.Body = body
		req.Header = xhr.Header{"Content-Type": {"application/json"}}
	}
	resp, err := xhr.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 {
		t.Fatalf("%s %s: status %d: %s", method, path, resp.Status, resp.Text())
	}
	return resp.Text()
}

// publish publishes messages data=first..first+n-1 in one batch.
func publish(t *testing.T, topic string, first, n int) {
	t.Helper()
	send(t, "POST", "/realtime/publish", testenv.PublishBody(topic, first, n))
}

func newTopic(name string) string {
	return name + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

type faultStats struct {
	Cuts        int `json:"cuts"`
	Stalls      int `json:"stalls"`
	BadGateways int `json:"badGateways"`
}

func setFaults(t *testing.T, topic string, cuts, stalls, every int) {
	send(t, "POST", "/test/realtime/faults", `{"topic":"`+topic+`","cuts":`+strconv.Itoa(cuts)+`,"stalls":`+strconv.Itoa(stalls)+`,"every":`+strconv.Itoa(every)+`}`)
}

func faults(t *testing.T, topic string) faultStats {
	var f faultStats
	json.Unmarshal([]byte(send(t, "GET", "/test/realtime/faults?topic="+topic, "")), &f)
	return f
}

// waitStarted waits until the subscription knows its start cursor.
func waitStarted(t *testing.T, s *Subscription) {
	t.Helper()
	for range 2000 {
		if !s.Cursor().IsZero() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the subscription never started")
}

// exactlyOnce publishes n messages in batches while sub reads them, and
// checks that they arrive once each, in order.
func exactlyOnce(t *testing.T, sub *Subscription, topic string, n int) (lost, dup int) {
	t.Helper()
	waitStarted(t, sub)
	got := make(chan int, n)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		prev := sub.Cursor().Offset
		for i := 0; i < n; i++ {
			m, err := sub.Next(ctx)
			if err != nil {
				errc <- err
				return
			}
			v, _ := strconv.Atoi(string(m.Data))
			if m.Offset != prev+1 {
				errc <- errors.New("offset " + strconv.FormatUint(m.Offset, 10) + " after " + strconv.FormatUint(prev, 10))
				return
			}
			prev = m.Offset
			got <- v
		}
		errc <- nil
	}()
	const batch, window = 50, 600 // the server keeps 1024
	seen := make([]int, n)
	received := 0
	for sent := 0; sent < n; sent += batch {
		publish(t, topic, sent, batch)
		for received < sent+batch-window {
			select {
			case v := <-got:
				if v >= 0 && v < n {
					seen[v]++
				}
				received++
			case err := <-errc:
				if err != nil {
					t.Fatalf("after %d messages: %v", received, err)
				}
				errc = nil // the reader is done; drain got
			}
		}
	}
	for received < n {
		select {
		case v := <-got:
			if v >= 0 && v < n {
				seen[v]++
			}
			received++
		case err := <-errc:
			if err != nil {
				t.Fatalf("after %d messages: %v", received, err)
			}
			errc = nil
		}
	}
	if errc != nil {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	for v, c := range seen {
		if c == 0 {
			lost++
		}
		if c > 1 {
			dup += c - 1
		}
		if c != 1 {
			t.Errorf("message %d arrived %d times", v, c)
		}
	}
	return lost, dup
}

// TestExactlyOnce publishes 5,000 messages while the server cuts each
// subscriber's connection 50 times mid-frame, for each transport alone.
func TestExactlyOnce(t *testing.T) {
	const n, cuts = 5000, 50
	for _, tr := range []Transport{SSE{}, Stream{},
		LongPoll{Backoff: 20 * time.Millisecond, MaxBatch: 50},
		Poll{Interval: 10 * time.Millisecond, Backoff: 20 * time.Millisecond, MaxBatch: 50}} {
		t.Run(tr.Name(), func(t *testing.T) {
			if tr.Name() == "stream" {
				testenv.BrowserOnly(t, noStreamInNode)
			}
			topic := newTopic("once-" + tr.Name())
			every := 3 * n / cuts / 2 // streams: a cut every ~75 messages, all 50 done by ~3,750
			if _, ok := tr.(Stream); !ok {
				if _, ok := tr.(SSE); !ok {
					// Polls: a cut batch is sent again whole and spared;
					// then the next fault falls within 10 messages.
					every = 10
				}
			}
			setFaults(t, topic, cuts, 0, every)
			sub, err := SubscribeFeed(context.Background(), topic, &Options{
				URL: testenv.ServerURL(t), Transports: []Transport{tr},
				Heartbeat: 200 * time.Millisecond, Backoff: 20 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			lost, dup := exactlyOnce(t, sub, topic, n)
			f := faults(t, topic)
			st := sub.Stats()
			t.Logf("%s alone: %d messages, %d drops (cuts), %d lost, %d duplicated; %d connections opened, %d runs restarted, %d repeated envelopes skipped",
				tr.Name(), n, f.Cuts, lost, dup, st.Opens, st.Reconnects, st.Duplicates)
			if f.Cuts < cuts*8/10 {
				t.Errorf("only %d of %d cuts happened", f.Cuts, cuts)
			}
		})
	}
}

// TestFallback: the same with stalls (a connection that goes silent, like
// a proxy buffering a stream) among the cuts, so Subscribe falls back from
// transport to transport.
func TestFallback(t *testing.T) {
	const n, cuts, stalls = 5000, 50, 6
	topic := newTopic("fallback")
	setFaults(t, topic, cuts, stalls, 60)
	var mu sync.Mutex
	var switches []Switch
	sub, err := SubscribeFeed(context.Background(), topic, &Options{
		URL: testenv.ServerURL(t),
		Transports: []Transport{Stream{}, SSE{}, LongPoll{Backoff: 20 * time.Millisecond, MaxBatch: 50},
			Poll{Interval: 10 * time.Millisecond, Backoff: 20 * time.Millisecond, MaxBatch: 50}},
		Heartbeat: 150 * time.Millisecond, Silence: 500 * time.Millisecond, Backoff: 20 * time.Millisecond,
		OnSwitch: func(s Switch) { mu.Lock(); switches = append(switches, s); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	lost, dup := exactlyOnce(t, sub, topic, n)
	f := faults(t, topic)
	st := sub.Stats()
	mu.Lock()
	defer mu.Unlock()
	used := map[string]bool{}
	var path []string
	for _, s := range switches {
		used[s.To] = true
		path = append(path, s.To)
	}
	t.Logf("fallback: %d messages, %d drops (%d cuts, %d stalls), %d lost, %d duplicated; %d switches (%s), %d reconnects",
		n, f.Cuts+f.Stalls, f.Cuts, f.Stalls, lost, dup, st.Switches, strings.Join(path, ">"), st.Reconnects)
	if switches[0].From != "" || switches[0].To != "stream" {
		t.Errorf("first switch %+v", switches[0])
	}
	if f.Cuts < cuts*8/10 || f.Stalls < stalls/2 {
		t.Errorf("faults done: %+v, planned %d cuts, %d stalls", f, cuts, stalls)
	}
	if len(used) < 3 || st.Switches < stalls/2 {
		t.Errorf("transports used: %v, switches %d", used, st.Switches)
	}
	for _, s := range switches[1:] {
		if s.Err == nil {
			t.Errorf("switch %s>%s without a reason", s.From, s.To)
		}
	}
}

func headOf(t *testing.T, topic string) Cursor {
	var b batch
	json.Unmarshal([]byte(send(t, "GET", "/realtime/poll?topic="+topic, "")), &b)
	return b.Cursor
}

// subscribers are the two ways to follow a topic: Subscribe (a shared
// session) and SubscribeFeed (the single-topic engine).
var subscribers = []struct {
	name string
	f    func(context.Context, string, *Options) (*Subscription, error)
}{{"session", Subscribe}, {"feed", SubscribeFeed}}

// TestGap: resuming before the retained history, or from another epoch,
// ends in a *GapError on every transport, through Subscribe and
// SubscribeFeed.
func TestGap(t *testing.T) {
	for _, sf := range subscribers {
		for _, tr := range []Transport{SSE{}, Stream{}, LongPoll{}, Poll{Interval: 10 * time.Millisecond}} {
			t.Run(sf.name+"/"+tr.Name(), func(t *testing.T) { testGap(t, sf.f, tr) })
		}
	}
}

func testGap(t *testing.T, subscribe func(context.Context, string, *Options) (*Subscription, error), tr Transport) {
	{
		{
			if tr.Name() == "stream" {
				testenv.BrowserOnly(t, noStreamInNode)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := newTopic("gap")
			start := headOf(t, topic)
			publish(t, topic, 0, 1100) // the server keeps 1024
			sub, err := subscribe(ctx, topic, &Options{URL: testenv.ServerURL(t), Transports: []Transport{tr}, From: start, Heartbeat: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, err = sub.Next(ctx)
			var gap *GapError
			if !errors.As(err, &gap) || !errors.Is(err, ErrGap) || gap.Reason != "evicted" || gap.Oldest != 77 || gap.Resume.Offset != 76 {
				t.Fatalf("evicted: %v (%+v)", err, gap)
			}
			sub.Close()

			sub, err = subscribe(ctx, topic, &Options{URL: testenv.ServerURL(t), Transports: []Transport{tr}, From: gap.Resume, Heartbeat: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if m, err := sub.Next(ctx); err != nil || m.Offset != 77 || string(m.Data) != "76" {
				t.Fatalf("resumed after the gap: %+v, %v", m, err)
			}
			send(t, "POST", "/test/realtime/reset?topic="+topic, "")
			publish(t, topic, 0, 1)
			for {
				m, err := sub.Next(ctx)
				if err == nil {
					if m.Epoch != gap.Resume.Epoch {
						t.Fatalf("a message of the new epoch arrived without a gap: %+v", m)
					}
					continue // the rest of the old epoch
				}
				if !errors.As(err, &gap) || gap.Reason != "epoch" {
					t.Fatalf("after a reset: %v", err)
				}
				break
			}
		}
	}
}

// TestLeaks subscribes and closes 1,000 times: every JS reference is
// released and the server holds no subscription.
func TestLeaks(t *testing.T) {
	base := testenv.MeasureRefs()
	trs := []Transport{SSE{}, Stream{}, LongPoll{}, Poll{}}
	topic := newTopic("leak")
	for i := range 1000 {
		sub, err := SubscribeFeed(context.Background(), topic, &Options{URL: testenv.ServerURL(t), Transports: trs[i%4 : i%4+1]})
		if err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			waitStarted(t, sub)
		}
		sub.Close()
		sub.Close()
		if _, err := sub.Next(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	}
	testenv.CheckRefs(t, base, 10)
	// Chromium drains the body of an aborted XHR for up to 5s to reuse
	// its connection, so the server sees the last streams leave late.
	var n struct{ Subscribers, Streams int }
	for range 1000 {
		json.Unmarshal([]byte(send(t, "GET", "/test/realtime/subscribers", "")), &n)
		if n.Subscribers == 0 && n.Streams == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server still holds %d subscriptions, %d streams", n.Subscribers, n.Streams)
}

func TestBadInput(t *testing.T) {
	if _, err := Subscribe(context.Background(), "a b", &Options{URL: "http://x"}); !errors.Is(err, ErrTopic) {
		t.Fatalf("bad topic: %v", err)
	}
	for _, s := range []string{"x", "-1", "a-b-", "a-1x"} {
		if _, err := ParseCursor(s); !errors.Is(err, ErrCursor) {
			t.Errorf("ParseCursor(%q) = %v", s, err)
		}
	}
	if c, err := ParseCursor("ab-12"); err != nil || c != (Cursor{Epoch: "ab", Offset: 12}) || c.String() != "ab-12" {
		t.Errorf("ParseCursor: %v %v", c, err)
	}
}

// TestPollETag: an unchanged topic costs a 304, which the browser hands
// through because the request carries its own If-None-Match.
func TestPollETag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic := newTopic("etag")
	u := testenv.ServerURL(t) + "/realtime/poll?topic=" + topic
	b, status, etag, err := getBatch(ctx, Feed{}, u, false, "")
	if err != nil || status != 200 || etag == "" {
		t.Fatalf("first poll: %d %q %v", status, etag, err)
	}
	u += "&cursor=" + b.Cursor.String()
	if _, status, _, err = getBatch(ctx, Feed{}, u, false, etag); err != nil || status != 304 {
		t.Fatalf("unchanged: %d %v, want 304", status, err)
	}
	publish(t, topic, 0, 1)
	b, status, etag2, err := getBatch(ctx, Feed{}, u, false, etag)
	if err != nil || status != 200 || len(b.Messages) != 1 || etag2 == etag {
		t.Fatalf("changed: %d %+v %v", status, b, err)
	}
}

// TestLongPollBadGateway: like seed 004's subscribe loop, LongPoll sends
// the next request at once after a 502 (a proxy timed the hanging request
// out) and backs off after cuts; nothing is lost or repeated.
func TestLongPollBadGateway(t *testing.T) {
	const n = 2000
	topic := newTopic("badgw")
	send(t, "POST", "/test/realtime/faults", `{"topic":"`+topic+`","cuts":10,"badGateways":30,"every":10}`)
	sub, err := SubscribeFeed(context.Background(), topic, &Options{
		URL: testenv.ServerURL(t), Transports: []Transport{LongPoll{Backoff: 20 * time.Millisecond, MaxBatch: 20}},
		Heartbeat: 200 * time.Millisecond, Backoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	lost, dup := exactlyOnce(t, sub, topic, n)
	f := faults(t, topic)
	t.Logf("longpoll: %d messages, %d 502s, %d cuts, %d lost, %d duplicated", n, f.BadGateways, f.Cuts, lost, dup)
	if f.BadGateways < 24 || f.Cuts < 8 {
		t.Errorf("faults done: %+v", f)
	}
}

// TestStreamRecycles: Stream ends its request after MaxBytes (responseText
// keeps the whole body) and resumes from the cursor without loss. A
// request ends after the first read past MaxBytes, which brings at most
// what the publisher (at most 650 messages ahead of the reader) had sent:
// fewer than MaxBytes of lines before it, and 650 messages, under 850
// here, so 2,000 messages need at least 3 requests. How many more
// depends on how Chromium's 50 ms progress ticks fall: only the bound is
// asserted.
func TestStreamRecycles(t *testing.T) {
	testenv.BrowserOnly(t, noStreamInNode)
	for _, sf := range subscribers {
		t.Run(sf.name, func(t *testing.T) {
			topic := newTopic("recycle")
			max := 16 << 10 // the single-topic envelopes: ~90 B per message
			if sf.name == "session" {
				max = 512 // the compact session lines: ~5 B per message
			}
			sub, err := sf.f(context.Background(), topic, &Options{
				URL: testenv.ServerURL(t), Transports: []Transport{Stream{MaxBytes: max}}, Heartbeat: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			exactlyOnce(t, sub, topic, 2000)
			if st := sub.Stats(); st.Reconnects < 2 {
				t.Fatalf("stats %+v: the stream was not recycled", st)
			}
		})
	}
}

// TestPollsShrinkCutAnswers: over a link that cuts every answer of more
// than 8 messages, LongPoll and Poll halve their batch after each cut
// answer, so they still deliver everything exactly once.
func TestPollsShrinkCutAnswers(t *testing.T) {
	for _, tr := range []Transport{
		LongPoll{Backoff: 10 * time.Millisecond, MaxFailures: 10},
		Poll{Interval: 20 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxFailures: 10},
	} {
		t.Run(tr.Name(), func(t *testing.T) {
			topic := newTopic("shrink")
			send(t, "POST", "/test/realtime/faults", `{"topic":"`+topic+`","maxAnswer":8}`)
			sub, err := SubscribeFeed(context.Background(), topic, &Options{
				URL: testenv.ServerURL(t), Transports: []Transport{tr},
				Heartbeat: 200 * time.Millisecond, Backoff: 10 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			exactlyOnce(t, sub, topic, 500)
			if f := faults(t, topic); f.Cuts == 0 {
				t.Errorf("no answer was cut (%+v): the test did not exercise the link", f)
			}
		})
	}
}
