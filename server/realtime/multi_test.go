//go:build !js

package realtime_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

type sseEvent struct{ id, event, data string }

// readSSE returns a reader of the events of a GET.
func readSSE(t testing.TB, url string, header http.Header) func() sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", url, err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	br := bufio.NewReader(resp.Body)
	return func() sseEvent {
		t.Helper()
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading events: %v", err)
			}
			line = strings.TrimSuffix(line, "\n")
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch {
			case line == "" && ev.data != "":
				return ev
			case k == "id":
				ev.id = v
			case k == "event":
				ev.event = v
			case k == "data":
				ev.data = v
			}
		}
	}
}

func envelope(t testing.TB, data string) wire.Message {
	var m wire.Message
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManyTopicSSE: a plain EventSource-style GET sse with repeated
// topic= follows them all; every id is the composite cursor, and
// Last-Event-ID resumes every topic exactly.
func TestManyTopicSSE(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{})
	br := n.h.Broker()
	topics := []string{"m-a", "m-b", "m-c"}
	url := n.url + "sse?topic=m-a&topic=m-b&topic=m-c"
	next := readSSE(t, url, nil)
	var id string
	for i := range topics {
		ev := next()
		if m := envelope(t, ev.data); ev.event != wire.TypeOpen || m.Topic != topics[i] {
			t.Fatalf("open %d: %+v", i, ev)
		}
		id = ev.id
	}
	if strings.Count(id, ",") != 2 {
		t.Fatalf("open id %q, want three cursors", id)
	}
	publish(t, br, "m-b", "1")
	publish(t, br, "m-a", "2")
	publish(t, br, "m-c", "3", "4")
	got := map[string][]string{}
	for range 4 {
		ev := next()
		m := envelope(t, ev.data)
		got[m.Topic] = append(got[m.Topic], string(m.Data))
		id = ev.id
	}
	if !slices.Equal(got["m-a"], []string{"2"}) || !slices.Equal(got["m-b"], []string{"1"}) || !slices.Equal(got["m-c"], []string{"3", "4"}) {
		t.Fatalf("got %v", got)
	}
	var want []string
	for _, topic := range topics {
		want = append(want, mustHead(t, br, topic).String())
	}
	if id != strings.Join(want, ",") {
		t.Fatalf("last id %q, want the heads %q", id, strings.Join(want, ","))
	}
	publish(t, br, "m-a", "5")
	publish(t, br, "m-c", "6")
	next = readSSE(t, url, http.Header{"Last-Event-ID": {id}})
	for range topics {
		next() // the opens
	}
	resumed := map[string]string{}
	for range 2 { // the topics are independent: either order
		m := envelope(t, next().data)
		resumed[m.Topic] += string(m.Data)
	}
	if resumed["m-a"] != "5" || resumed["m-c"] != "6" {
		t.Fatalf("resumed: %v, want m-a 5 and m-c 6", resumed)
	}
}

// TestManyTopicStreamAndPoll: the stream, poll and long poll with
// repeated topic=, and the refusals.
func TestManyTopicStreamAndPoll(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{History: 2})
	br := n.h.Broker()
	publish(t, br, "p-a", "1", "2", "3")
	var bs []wire.Batch
	status, body := get(t, n, "poll?topic=p-a&topic=p-b")
	if err := json.Unmarshal([]byte(body), &bs); status != 200 || err != nil || len(bs) != 2 || bs[0].Cursor.Offset != 3 || bs[1].Cursor.Offset != 0 {
		t.Fatalf("first poll: %d %s", status, body)
	}
	ca, cb := bs[0].Cursor, bs[1].Cursor
	publish(t, br, "p-b", `"x"`)
	status, body = get(t, n, "poll?topic=p-a&topic=p-b&cursor="+ca.String()+"&cursor="+cb.String())
	if json.Unmarshal([]byte(body), &bs); status != 200 || len(bs[0].Messages) != 0 || len(bs[1].Messages) != 1 || string(bs[1].Messages[0].Data) != `"x"` {
		t.Fatalf("second poll: %s", body)
	}
	// ETag: the composite cursor; If-None-Match with it costs a 304.
	req, _ := http.NewRequest("GET", n.url+"poll?topic=p-a&topic=p-b&cursor="+ca.String()+"&cursor="+bs[1].Cursor.String(), nil)
	req.Header.Set("If-None-Match", `"`+ca.String()+","+bs[1].Cursor.String()+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %v %v", err, resp)
	}
	resp.Body.Close()
	// A gap in one topic is its batch's gap; the other answers.
	status, body = get(t, n, "poll?topic=p-a&topic=p-b&cursor="+wire.Cursor{Epoch: ca.Epoch}.String()+"&cursor=")
	if json.Unmarshal([]byte(body), &bs); status != 200 || bs[0].Gap == nil || bs[0].Gap.Reason != wire.GapEvicted || bs[1].Cursor.Offset != 1 {
		t.Fatalf("gap poll: %s", body)
	}
	// A long poll waits for either topic.
	done := make(chan string, 1)
	go func() {
		_, body := get(t, n, "longpoll?timeout=10000&topic=p-a&topic=p-b&cursor="+ca.String()+"&cursor="+mustHead(t, br, "p-b").String())
		done <- body
	}()
	publish(t, br, "p-a", "4")
	if json.Unmarshal([]byte(<-done), &bs); len(bs[0].Messages) != 1 || string(bs[0].Messages[0].Data) != "4" {
		t.Fatalf("long poll: %+v", bs)
	}
	// The stream: newline-delimited envelopes of both topics.
	c := openLines(t, n.url+"stream?topic=p-a&topic=p-b&cursor="+ca.String()+"&cursor=")
	for _, want := range []string{"p-a _open", "p-b _open", "p-a message 4"} {
		m := envelope(t, c())
		got := m.Topic + " " + m.Type
		if m.Type == wire.TypeMessage {
			got += " " + string(m.Data)
		}
		if got != want {
			t.Fatalf("stream: %q, want %q", got, want)
		}
	}
	for _, tc := range []struct {
		q      string
		status int
	}{
		{"topic=a&topic=a", 400},
		{"topic=a&topic=b&cursor=", 400},
		{"topic=a&topic=_n:x", 403},
		{"topic=a&topic=b&cursor=x&cursor=", 400},
	} {
		for _, ep := range []string{"sse", "stream", "poll", "longpoll"} {
			if status, _ := get(t, n, ep+"?"+tc.q); status != tc.status {
				t.Errorf("%s?%s: %d, want %d", ep, tc.q, status, tc.status)
			}
		}
	}
}

// openLines returns a reader of the lines of a GET.
func openLines(t testing.TB, url string) func() string {
	ctx, cancel := context.WithCancel(testCtx(t))
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %v %v", url, err, resp)
	}
	t.Cleanup(func() { resp.Body.Close() })
	br := bufio.NewReader(resp.Body)
	return func() string {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
}

// TestManyTopicPollBounded: a many-topic poll answer holds about
// SessionQueue bytes; each batch's cursor says where its topic goes on.
func TestManyTopicPollBounded(t *testing.T) {
	t.Parallel()
	n := newNode(t, realtime.Config{SessionQueue: 1000})
	big := `"` + strings.Repeat("x", 98) + `"`
	batch := make([]string, 8)
	for i := range batch {
		batch[i] = big
	}
	ra := publish(t, n.h.Broker(), "pb-a", batch...)
	rb := publish(t, n.h.Broker(), "pb-b", batch...)
	ca, cb := wire.Cursor{Epoch: ra.Cursor.Epoch}, wire.Cursor{Epoch: rb.Cursor.Epoch}
	got := 0
	for polls := 0; got < 16; polls++ {
		if polls > 10 {
			t.Fatalf("%d messages after %d polls", got, polls)
		}
		var bs []wire.Batch
		_, body := get(t, n, "poll?topic=pb-a&topic=pb-b&cursor="+ca.String()+"&cursor="+cb.String())
		if err := json.Unmarshal([]byte(body), &bs); err != nil {
			t.Fatal(err)
		}
		if k := len(bs[0].Messages) + len(bs[1].Messages); k == 0 || k > 11 {
			t.Fatalf("an answer of %d messages", k)
		}
		for i, c := range []*wire.Cursor{&ca, &cb} {
			if c.Offset+uint64(len(bs[i].Messages)) != bs[i].Cursor.Offset {
				t.Fatalf("batch %d: cursor %v after %d messages from %v", i, bs[i].Cursor, len(bs[i].Messages), *c)
			}
			*c = bs[i].Cursor
		}
		got += len(bs[0].Messages) + len(bs[1].Messages)
	}
}
