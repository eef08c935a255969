//go:build !js

package brokertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Factory returns a new, empty Broker with limits l. The suite closes it.
type Factory func(t testing.TB, l broker.Limits) broker.Broker

var topicSeq atomic.Int64

// Topic returns a topic name no other test of this process uses.
func Topic(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), topicSeq.Add(1))
}

// Run runs every conformance test against brokers from newBroker.
func Run(t *testing.T, newBroker Factory) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, nb Factory)
	}{
		{"PublishValidates", testPublishValidates},
		{"BatchIsAtomic", testBatchIsAtomic},
		{"ReadFromCursor", testReadFromCursor},
		{"Gaps", testGaps},
		{"Reset", testReset},
		{"HistoryBytesLoseNothingSilently", testHistoryBytes},
		{"Idempotency", testIdempotency},
		{"SubscribeInOrder", testSubscribeInOrder},
		{"SubscribeFromPastIsRaceFree", testSubscribeFromPast},
		{"SlowSubscriberGetsGap", testSlowSubscriberGetsGap},
		{"CloseEndsSubscriptions", testCloseEndsSubscriptions},
		{"ContextEndsSubscription", testContextEndsSubscription},
		{"CancelRightAfterSubscribe", testCancelRightAfterSubscribe},
		{"PresenceJoinLeave", testPresenceJoinLeave},
		{"PresenceTTL", testPresenceTTL},
		{"PresenceExpireOnce", testPresenceExpireOnce},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newBroker)
		})
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func open(t testing.TB, nb Factory, l broker.Limits) broker.Broker {
	b := nb(t, l)
	t.Cleanup(func() { b.Close() })
	return b
}

func publishN(t testing.TB, b broker.Broker, topic string, n int) broker.Receipt {
	t.Helper()
	var r broker.Receipt
	for i := range n {
		var err error
		r, err = b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(strconv.Itoa(i))}}, broker.PublishOptions{})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	return r
}

func testPublishValidates(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{MaxData: 10})
	topic := Topic("v")
	for _, tc := range []struct {
		name, topic, typ, data string
		want                   error
	}{
		{"ok", topic, "", `1`, nil},
		{"default data", topic, "x", ``, nil},
		{"bad topic", "a b", "", `1`, broker.ErrTopic},
		{"empty topic", "", "", `1`, broker.ErrTopic},
		{"reserved type", topic, "_open", `1`, broker.ErrType},
		{"newline type", topic, "x\ny", `1`, broker.ErrType},
		{"not json", topic, "", `{`, broker.ErrData},
		{"invalid utf-8", topic, "", "\"\xff\"", broker.ErrData},
		{"too large", topic, "", `"0123456789"`, broker.ErrTooLarge},
	} {
		r, err := b.Publish(ctx(t), tc.topic, []wire.Draft{{Type: tc.typ, Data: json.RawMessage(tc.data)}}, broker.PublishOptions{})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if err == nil && r.Count != 1 {
			t.Errorf("%s: count = %d, want 1", tc.name, r.Count)
		}
	}
	if _, err := b.Publish(ctx(t), topic, []wire.Draft{{}}, broker.PublishOptions{IdempotencyKey: "has space"}); !errors.Is(err, broker.ErrKey) {
		t.Errorf("bad key: err = %v, want ErrKey", err)
	}
	batch, err := b.Read(ctx(t), topic, wire.Cursor{Epoch: mustHead(t, b, topic).Epoch}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Messages) != 2 || batch.Messages[1].Type != "x" || string(batch.Messages[1].Data) != "null" || batch.Messages[0].Type != wire.TypeMessage {
		t.Errorf("stored %+v, want 2 messages: type message, then type x with null", batch.Messages)
	}
}

func mustHead(t testing.TB, b broker.Broker, topic string) wire.Cursor {
	t.Helper()
	c, err := b.Head(ctx(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testBatchIsAtomic(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	topic := Topic("atomic")
	_, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(`1`)}, {Data: json.RawMessage(`{`)}}, broker.PublishOptions{})
	if !errors.Is(err, broker.ErrData) {
		t.Fatalf("err = %v, want ErrData", err)
	}
	if h := mustHead(t, b, topic); h.Offset != 0 {
		t.Fatalf("head after a refused batch = %v, want offset 0", h)
	}
	r, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(`1`)}, {Data: json.RawMessage(`2`)}, {Data: json.RawMessage(`3`)}}, broker.PublishOptions{})
	if err != nil || r.Count != 3 || r.Cursor.Offset != 3 {
		t.Fatalf("batch = %+v, %v; want count 3 at offset 3", r, err)
	}
}

func testReadFromCursor(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{MaxBatch: 3})
	topic := Topic("read")
	r := publishN(t, b, topic, 5)
	epoch := r.Cursor.Epoch
	if h := mustHead(t, b, topic); h != r.Cursor || h.Offset != 5 {
		t.Fatalf("head = %v, receipt %v; want offset 5", h, r.Cursor)
	}
	got, err := b.Read(ctx(t), topic, wire.Cursor{}, 0)
	if err != nil || len(got.Messages) != 0 || got.Cursor != r.Cursor {
		t.Fatalf("read from zero = %+v, %v; want no messages at the head", got, err)
	}
	got, err = b.Read(ctx(t), topic, wire.Cursor{Epoch: epoch}, 0)
	if err != nil || len(got.Messages) != 3 || got.Messages[0].Offset != 1 || got.Cursor.Offset != 3 {
		t.Fatalf("read from the start = %+v, %v; want offsets 1-3 (MaxBatch)", got, err)
	}
	got, err = b.Read(ctx(t), topic, got.Cursor, 10)
	if err != nil || len(got.Messages) != 2 || got.Messages[0].Offset != 4 || string(got.Messages[1].Data) != "4" {
		t.Fatalf("read on = %+v, %v; want offsets 4-5", got, err)
	}
	for _, m := range got.Messages {
		if m.Topic != topic || m.Epoch != epoch {
			t.Fatalf("message %+v: want topic %q epoch %q", m, topic, epoch)
		}
	}
	got, err = b.Read(ctx(t), topic, r.Cursor, 0)
	if err != nil || len(got.Messages) != 0 || got.Cursor != r.Cursor {
		t.Fatalf("read at the head = %+v, %v", got, err)
	}
}

func testGaps(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{History: 4})
	topic := Topic("gap")
	r := publishN(t, b, topic, 10)
	for _, tc := range []struct {
		from   wire.Cursor
		reason string
	}{
		{wire.Cursor{Epoch: "stale", Offset: 3}, wire.GapEpoch},
		{wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 11}, wire.GapAhead},
		{wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 1}, wire.GapEvicted},
	} {
		got, err := b.Read(ctx(t), topic, tc.from, 0)
		var gap *broker.GapError
		if !errors.As(err, &gap) || !errors.Is(err, broker.ErrGap) || gap.Reason != tc.reason || got.Gap == nil {
			t.Errorf("read from %v: %+v, %v; want a %s gap", tc.from, got, err, tc.reason)
			continue
		}
		if gap.Resume != (wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 6}) || gap.Oldest != 7 || gap.Want != tc.from || gap.Topic != topic {
			t.Errorf("gap %+v: want resume after 6, oldest 7", gap)
		}
		if _, err := b.Subscribe(ctx(t), topic, tc.from); !errors.As(err, &gap) || gap.Reason != tc.reason {
			t.Errorf("subscribe from %v: %v; want a %s gap", tc.from, err, tc.reason)
		}
	}
	got, err := b.Read(ctx(t), topic, wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 6}, 0)
	if err != nil || len(got.Messages) != 4 {
		t.Errorf("read from the oldest kept = %+v, %v; want 4 messages", got, err)
	}
}

// testHistoryBytes: Limits.HistoryBytes and TotalHistoryBytes are
// optional for a Broker, but one that evicts for them must evict from the
// oldest and say so: a reader from the start gets every message, or an
// "evicted" gap and then every message after it, in order.
func testHistoryBytes(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{HistoryBytes: 64 << 10, TotalHistoryBytes: 96 << 10})
	data := json.RawMessage(`"` + strings.Repeat("h", 4000) + `"`)
	topics := []string{Topic("bytes-a"), Topic("bytes-b")}
	for i := range 40 {
		for _, topic := range topics {
			if _, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: data}}, broker.PublishOptions{}); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	for _, topic := range topics {
		head := mustHead(t, b, topic)
		from := wire.Cursor{Epoch: head.Epoch}
		next := uint64(1)
		for from.Offset < head.Offset {
			got, err := b.Read(ctx(t), topic, from, 0)
			var gap *broker.GapError
			switch {
			case errors.As(err, &gap):
				if gap.Reason != wire.GapEvicted || gap.Resume.Offset < from.Offset {
					t.Fatalf("%s: gap %+v from %v", topic, gap, from)
				}
				from, next = gap.Resume, gap.Resume.Offset+1
				continue
			case err != nil:
				t.Fatal(err)
			}
			for _, m := range got.Messages {
				if m.Offset != next {
					t.Fatalf("%s: offset %d, want %d: a message was lost without a gap", topic, m.Offset, next)
				}
				next++
			}
			from = got.Cursor
		}
		if next != head.Offset+1 {
			t.Errorf("%s: read up to %d, head %d", topic, next-1, head.Offset)
		}
	}
}

func testReset(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	rs, ok := b.(broker.Resetter)
	if !ok {
		t.Skip("this broker cannot reset")
	}
	topic := Topic("reset")
	r := publishN(t, b, topic, 3)
	if err := rs.Reset(ctx(t), topic); err != nil {
		t.Fatal(err)
	}
	h := mustHead(t, b, topic)
	if h.Epoch == r.Cursor.Epoch || h.Offset != 0 {
		t.Fatalf("head after reset = %v, was %v: want a new epoch at offset 0", h, r.Cursor)
	}
	_, err := b.Read(ctx(t), topic, r.Cursor, 0)
	var gap *broker.GapError
	if !errors.As(err, &gap) || gap.Reason != wire.GapEpoch || gap.Resume != h {
		t.Fatalf("read with the old cursor: %v; want an epoch gap resuming at %v", err, h)
	}
}

func testIdempotency(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	topic := Topic("idem")
	publishN(t, b, topic, 2)
	opts := broker.PublishOptions{IdempotencyKey: "k-1"}
	first, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(`"a"`)}}, opts)
	if err != nil || first.Repeat || first.Cursor.Offset != 3 {
		t.Fatalf("first = %+v, %v; want offset 3", first, err)
	}
	for range 3 {
		again, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(`"a"`)}}, opts)
		if err != nil || !again.Repeat || again.Cursor != first.Cursor || again.Count != 1 {
			t.Fatalf("repeat = %+v, %v; want the first receipt with Repeat", again, err)
		}
	}
	other, err := b.Publish(ctx(t), topic, []wire.Draft{{Data: json.RawMessage(`"b"`)}}, broker.PublishOptions{IdempotencyKey: "k-2"})
	if err != nil || other.Repeat || other.Cursor.Offset != 4 {
		t.Fatalf("another key = %+v, %v; want offset 4", other, err)
	}
	if h := mustHead(t, b, topic); h.Offset != 4 {
		t.Fatalf("head = %v, want offset 4: repeats must append nothing", h)
	}
	// The same key on another topic is another publish.
	o2, err := b.Publish(ctx(t), Topic("idem2"), []wire.Draft{{}}, opts)
	if err != nil || o2.Repeat {
		t.Fatalf("same key, other topic = %+v, %v; want a new publish", o2, err)
	}
}

// follow reads n messages from sub and checks they are contiguous from
// offset first.
func follow(t testing.TB, sub broker.Subscription, first uint64, n int) error {
	want := first
	for want < first+uint64(n) {
		ms, err := sub.Next(ctx(t))
		if err != nil {
			return fmt.Errorf("after offset %d: %w", want-1, err)
		}
		for _, m := range ms {
			if m.Offset != want {
				return fmt.Errorf("got offset %d, want %d", m.Offset, want)
			}
			want++
		}
	}
	return nil
}

func testSubscribeInOrder(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{History: 10000})
	topic := Topic("order")
	sub, err := b.Subscribe(ctx(t), topic, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if sub.Start().Offset != 0 {
		t.Fatalf("start = %v, want offset 0", sub.Start())
	}
	const publishers, each = 4, 100
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() { publishN(t, b, topic, each) })
	}
	if err := follow(t, sub, 1, publishers*each); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func testSubscribeFromPast(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{History: 10000})
	topic := Topic("past")
	r := publishN(t, b, topic, 50)
	done := make(chan struct{})
	go func() { defer close(done); publishN(t, b, topic, 200) }()
	// Subscribing while publishes land: history then live, no gap, no repeat.
	sub, err := b.Subscribe(ctx(t), topic, wire.Cursor{Epoch: r.Cursor.Epoch, Offset: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := follow(t, sub, 11, 240); err != nil {
		t.Fatal(err)
	}
	<-done
}

func testSlowSubscriberGetsGap(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{History: 4})
	topic := Topic("slow")
	sub, err := b.Subscribe(ctx(t), topic, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	publishN(t, b, topic, 10)
	// A broker may hand over what it already had, in as many batches as it
	// likes; what it no longer has must come as a gap.
	want := uint64(1)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ms, err := sub.Next(ctx(t))
		var gap *broker.GapError
		if errors.As(err, &gap) {
			if gap.Reason != wire.GapEvicted {
				t.Fatalf("gap reason %q, want evicted", gap.Reason)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Offset != want {
				t.Fatalf("offset %d after %d, and no gap: a message was lost silently", m.Offset, want-1)
			}
			want++
		}
		if want == 11 {
			return
		}
	}
	t.Fatal("neither the 10 messages nor a gap")
}

func testCloseEndsSubscriptions(t *testing.T, nb Factory) {
	b := nb(t, broker.Limits{})
	topic := Topic("close")
	sub, err := b.Subscribe(ctx(t), topic, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { _, err := sub.Next(ctx(t)); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	b.Close()
	if err := <-errc; !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	sub.Close()
	if _, err := b.Publish(ctx(t), topic, []wire.Draft{{}}, broker.PublishOptions{}); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func testContextEndsSubscription(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	topic := Topic("ctx")
	sctx, cancel := context.WithCancel(ctx(t))
	sub, err := b.Subscribe(sctx, topic, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer ncancel()
	if _, err := sub.Next(nctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with an expiring ctx = %v, want DeadlineExceeded", err)
	}
	cancel()
	if _, err := sub.Next(ctx(t)); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Next after the subscription's ctx ended = %v, want ErrClosed", err)
	}
	sub.Close()
}

// testCancelRightAfterSubscribe: a context that ends while Subscribe runs
// or right after ends the subscription cleanly, with no race between its
// end and Close.
func testCancelRightAfterSubscribe(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	topic := Topic("cancel")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			c, cancel := context.WithCancel(ctx(t))
			if i%2 == 0 {
				go cancel() // ends while Subscribe runs
			}
			sub, err := b.Subscribe(c, topic, wire.Cursor{})
			cancel()
			if err != nil {
				return // an ended context may refuse at once
			}
			sub.Close()
		})
	}
	wg.Wait()
}
