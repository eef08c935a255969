//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

func postJSON(t testing.TB, url, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, b
}

func TestPublishEndpoint(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	for _, tc := range []struct {
		name, body string
		status     int
		headers    []string
	}{
		{"one", `{"topic":"p","type":"chat","data":{"text":"hi"}}`, 200, nil},
		{"batch", `{"topic":"p","messages":[{"data":1},{"type":"x","data":"y"}]}`, 200, nil},
		{"no data", `{"topic":"p"}`, 200, nil},
		{"bad topic", `{"topic":"a b","data":1}`, 400, nil},
		{"reserved type", `{"topic":"p","type":"_open"}`, 400, nil},
		{"empty batch", `{"topic":"p","messages":[]}`, 400, nil},
		{"malformed", `{"topic":`, 400, nil},
		{"too large", `{"topic":"p","data":"` + strings.Repeat("x", 70<<10) + `"}`, 413, nil},
		{"wrong content type", `{}`, 415, []string{"Content-Type", "application/xml"}},
		{"foreign origin", `{"topic":"p"}`, 403, []string{"Origin", "http://evil.example"}},
		{"server's topic", `{"topic":"clock"}`, 403, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postJSON(t, ts.URL+"/realtime/publish", tc.body, tc.headers...)
			equal(t, "status "+string(body), resp.StatusCode, tc.status)
			if tc.status != 200 && !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("error body %q", body)
			}
		})
	}
	head, _ := ts.hub.Head("p")
	equal(t, "messages published", head.Offset, uint64(4))
}

func getBatch(t testing.TB, url string, headers ...string) (*http.Response, wire.Batch) {
	t.Helper()
	resp, body := get(t, url, headers...)
	var b wire.Batch
	if resp.StatusCode == 200 {
		must(t, json.Unmarshal(body, &b))
	}
	return resp, b
}

func TestPoll(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	resp, b := getBatch(t, ts.URL+"/realtime/poll?topic=poll")
	equal(t, "first", resp.StatusCode, 200)
	equal(t, "empty", len(b.Messages), 0)
	etag := resp.Header.Get("ETag")
	equal(t, "etag", etag, `"`+b.Cursor.String()+`"`)
	resp, _ = getBatch(t, ts.URL+"/realtime/poll?topic=poll&cursor="+b.Cursor.String(), "If-None-Match", etag)
	equal(t, "unchanged", resp.StatusCode, http.StatusNotModified)
	ts.hub.Publish("poll", "", json.RawMessage(`"a"`))
	resp, b2 := getBatch(t, ts.URL+"/realtime/poll?topic=poll&cursor="+b.Cursor.String(), "If-None-Match", etag)
	equal(t, "changed", resp.StatusCode, 200)
	equal(t, "one message", len(b2.Messages), 1)
	equal(t, "next cursor", b2.Cursor.Offset, uint64(1))
	ts.hub.Reset("poll")
	_, b3 := getBatch(t, ts.URL+"/realtime/poll?topic=poll&cursor="+b2.Cursor.String())
	if b3.Gap == nil || b3.Gap.Reason != "epoch" {
		t.Fatalf("poll after reset: %+v", b3)
	}
}

func TestLongPoll(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	resp, b := getBatch(t, ts.URL+"/realtime/longpoll?topic=lp&timeout=30")
	equal(t, "timeout status", resp.StatusCode, 200)
	equal(t, "timeout batch", len(b.Messages), 0)
	if b.Cursor.Epoch == "" {
		t.Fatal("no cursor on timeout")
	}
	go func() {
		for ts.hub.Subscribers() == 0 && ts.streams.Count() == 0 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		ts.hub.Publish("lp", "", json.RawMessage(`"x"`))
	}()
	_, b = getBatch(t, ts.URL+"/realtime/longpoll?topic=lp&timeout=5000&cursor="+b.Cursor.String())
	equal(t, "woken", len(b.Messages), 1)
	equal(t, "data", string(b.Messages[0].Data), `"x"`)
}

func TestStream(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/realtime/stream?topic=st&heartbeat=50", nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	equal(t, "Content-Type", resp.Header.Get("Content-Type"), "application/x-ndjson; charset=utf-8")
	sc := bufio.NewScanner(resp.Body)
	var types []string
	for len(types) < 3 && sc.Scan() {
		var m wire.Message
		must(t, json.Unmarshal(sc.Bytes(), &m))
		types = append(types, m.Type)
		if m.Type == wire.TypePing {
			ts.hub.Publish("st", "chat", json.RawMessage(`"hi"`))
		}
	}
	equal(t, "frames", strings.Join(types, ","), "_open,_ping,chat")
}

// readFeed follows topic with a Go client of one transport, resuming from
// the last message after every failure, until n messages arrived. It
// returns the offsets in delivery order and the failures seen.
func readFeed(ctx context.Context, base, transport, topic string, cur wire.Cursor, n int, progress *atomic.Int64) ([]uint64, int, error) {
	var got []uint64
	drops := 0
	accept := func(m wire.Message) error {
		switch m.Type {
		case wire.TypeOpen:
			if cur.IsZero() {
				cur = m.Cursor()
			}
		case wire.TypeGap:
			return errors.New("gap: " + string(m.Data))
		case wire.TypePing:
		default:
			if m.Offset != cur.Offset+1 {
				return fmt.Errorf("offset %d after %d", m.Offset, cur.Offset)
			}
			got = append(got, m.Offset)
			progress.Add(1)
			cur = m.Cursor()
		}
		return nil
	}
	for len(got) < n {
		if ctx.Err() != nil {
			return got, drops, ctx.Err()
		}
		url := base + "/realtime/" + transport + "?topic=" + topic + "&cursor=" + cur.String() + "&heartbeat=200&timeout=200&max=20"
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			drops++
			continue
		}
		if transport == "longpoll" {
			var b wire.Batch
			err = json.NewDecoder(resp.Body).Decode(&b)
			resp.Body.Close()
			if err != nil {
				drops++
				continue
			}
			if cur.IsZero() {
				cur = b.Cursor
			}
			for _, m := range b.Messages {
				if err := accept(m); err != nil {
					return got, drops, err
				}
			}
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && len(got) < n {
			var m wire.Message
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				break // a torn last line: the stream died
			}
			if err := accept(m); err != nil {
				resp.Body.Close()
				return got, drops, err
			}
		}
		resp.Body.Close()
		if len(got) < n {
			drops++
		}
	}
	return got, drops, nil
}

// TestExactlyOnceHost publishes while the fault hook cuts each subscriber
// 20 times mid-frame; a Go client resuming from its last offset gets every
// message once, in order. (The browser transports are proven in
// wasm/comet; this checks the server side alone.)
func TestExactlyOnceHost(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	for _, transport := range []string{"stream", "longpoll"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			const n, cuts = 2000, 20
			topic := "once-" + transport
			every := 2 * n / cuts
			if transport == "longpoll" {
				every = 20 // faults fall over answers of at most 20 (max=20)
			}
			must(t, ts.hub.SetFaults(topic, realtime.FaultPlan{Cuts: cuts, Every: every}))
			start, _ := ts.hub.Head(topic)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var got []uint64
			var drops int
			var err error
			var wg sync.WaitGroup
			wg.Add(1)
			var progress atomic.Int64
			go func() { defer wg.Done(); got, _, err = readFeed(ctx, ts.URL, transport, topic, start, n, &progress) }()
			for i := 0; i < n; i += 100 {
				drafts := make([]wire.Draft, 100)
				for j := range drafts {
					drafts[j].Data = json.RawMessage(strconv.Itoa(i + j))
				}
				_, perr := ts.hub.PublishBatch(topic, drafts)
				must(t, perr)
				for progress.Load() < int64(i-500) && ctx.Err() == nil { // stay within the history
					time.Sleep(time.Millisecond)
				}
			}
			wg.Wait()
			if err != nil {
				t.Fatalf("after %d messages: %v (faults %+v)", len(got), err, ts.hub.Faults(topic))
			}
			drops = ts.hub.Faults(topic).Cuts
			equal(t, "messages", len(got), n)
			for i, off := range got {
				if off != uint64(i+1) {
					t.Fatalf("message %d has offset %d", i, off)
				}
			}
			if drops < cuts/2 {
				t.Errorf("only %d cuts happened", drops)
			}
			t.Logf("%s: %d messages, %d cuts, 0 lost, 0 duplicated", transport, len(got), drops)
		})
	}
}

// TestSubscribeDisconnectLeaks opens and drops 1,000 SSE, stream and long
// poll requests: every subscription and stream slot is freed at once
// (TestMain then checks that no goroutine is left).
func TestSubscribeDisconnectLeaks(t *testing.T) {
	ts := newTestServer(t, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	paths := []string{"sse", "stream", "longpoll"}
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/realtime/"+paths[i%3]+"?topic=leak&timeout=60000", nil)
		if paths[i%3] == "longpoll" {
			go func() { time.Sleep(time.Millisecond); cancel() }()
			client.Do(req)
		} else {
			resp, err := client.Do(req)
			must(t, err)
			resp.Body.Read(make([]byte, 1))
			cancel()
			resp.Body.Close()
		}
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for (ts.hub.Subscribers() > 0 || ts.streams.Count() > 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	equal(t, "subscriptions left", ts.hub.Subscribers(), 0)
	equal(t, "streams left", ts.streams.Count(), 0)
}

// TestEvictionGap: with -history 10, a cursor older than the history gets
// the gap on every transport.
func TestEvictionGap(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(c *config) { c.History = 10 })
	first, err := ts.hub.Publish("ev", "", nil)
	must(t, err)
	for range 20 {
		ts.hub.Publish("ev", "", nil)
	}
	q := "?topic=ev&cursor=" + first.Cursor().String()
	for _, path := range []string{"poll", "longpoll"} {
		_, b := getBatch(t, ts.URL+"/realtime/"+path+q)
		if b.Gap == nil || b.Gap.Reason != "evicted" || b.Gap.Oldest != 12 || b.Cursor.Offset != 11 {
			t.Errorf("%s: %+v", path, b)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/realtime/stream"+q, nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var m wire.Message
	must(t, json.NewDecoder(resp.Body).Decode(&m))
	equal(t, "stream", m.Type, wire.TypeGap)
	_, p := openSSE(t, ctx, ts.URL+"/realtime/sse"+q)
	equal(t, "sse", nextEvent(t, p).Type, wire.TypeGap)
}
