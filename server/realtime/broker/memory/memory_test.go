//go:build !js

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/brokertest"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

func TestConformance(t *testing.T) {
	brokertest.Run(t, func(t testing.TB, l broker.Limits) broker.Broker { return memory.New(l) })
}

func TestTopicTableEvictsEmptyTopics(t *testing.T) {
	t.Parallel()
	b := memory.New(broker.Limits{MaxTopics: 2})
	defer b.Close()
	ctx := context.Background()
	if _, err := b.Publish(ctx, "a", []wire.Draft{{Data: json.RawMessage(`1`)}}, broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, "empty"); err != nil { // a poll of a new name makes an empty topic
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, "c"); err != nil {
		t.Fatalf("a new topic at the limit with an empty one to evict: %v", err)
	}
	if _, err := b.Publish(ctx, "c", []wire.Draft{{}}, broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Head(ctx, "d"); !errors.Is(err, broker.ErrTopics) {
		t.Fatalf("a third topic with both holding messages: %v, want ErrTopics", err)
	}
	if b.Topics() != 2 {
		t.Fatalf("topics = %d, want 2", b.Topics())
	}
}

func TestSubscriptionsAreCounted(t *testing.T) {
	t.Parallel()
	b := memory.New(broker.Limits{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var subs []broker.Subscription
	for range 100 {
		s, err := b.Subscribe(ctx, "t", wire.Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	subs[0].Close()
	subs[0].Close()
	if n := b.Subscribers(); n != 99 {
		t.Fatalf("subscribers = %d, want 99", n)
	}
	cancel()
	for range 100 {
		if b.Subscribers() == 0 {
			return
		}
		_, _ = b.Head(context.Background(), "t")
	}
	for _, s := range subs {
		s.Close()
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("subscribers after cancel and Close = %d, want 0", n)
	}
}

// TestHistoryBytes: the byte bounds of history hold per topic and in total
// (issue 14 item 11), evicting the oldest; a batch over the bound is
// refused.
func TestHistoryBytes(t *testing.T) {
	t.Parallel()
	const perTopic, total = 256 << 10, 1 << 20
	b := memory.New(broker.Limits{HistoryBytes: perTopic, TotalHistoryBytes: total})
	defer b.Close()
	ctx := context.Background()
	data := json.RawMessage(`"` + strings.Repeat("x", 60<<10) + `"`)
	batch := make([]wire.Draft, 3)
	for i := range batch {
		batch[i] = wire.Draft{Data: data}
	}
	first := map[string]wire.Cursor{}
	for i := range 64 {
		topic := "t" + strconv.Itoa(i%16)
		r, err := b.Publish(ctx, topic, batch, broker.PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := first[topic]; !ok {
			first[topic] = wire.Cursor{Epoch: r.Cursor.Epoch}
		}
		if got := b.HistoryBytes(); got > total {
			t.Fatalf("after publish %d: %d bytes held, bound %d", i, got, total)
		}
	}
	// The first topics lost everything to the total bound, the last ones
	// keep at most perTopic each.
	for topic, c := range first {
		_, err := b.Read(ctx, topic, c, 0)
		if !errors.Is(err, broker.ErrGap) {
			t.Errorf("%s from the start: %v, want an evicted gap", topic, err)
		}
	}
	big := make([]wire.Draft, 5)
	for i := range big {
		big[i] = wire.Draft{Data: data}
	}
	if _, err := b.Publish(ctx, "t0", big, broker.PublishOptions{}); !errors.Is(err, broker.ErrTooLarge) {
		t.Errorf("batch over HistoryBytes: %v, want ErrTooLarge", err)
	}
	t.Logf("held %d bytes of history after 64 publishes of 3 x 60 KiB (bounds %d per topic, %d in total)", b.HistoryBytes(), perTopic, total)
}

// TestIdleTopicsAgeOut: a topic with messages and no subscriber is
// dropped after TopicIdle, so the table cannot fill for good (issue 14
// item 12); a watched topic stays.
func TestIdleTopicsAgeOut(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	b := memory.NewWithClock(broker.Limits{MaxTopics: 4, TopicIdle: time.Minute}, func() time.Time { return now })
	defer b.Close()
	ctx := context.Background()
	pub := func(topic string) error {
		_, err := b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(`1`)}}, broker.PublishOptions{})
		return err
	}
	sub, err := b.Subscribe(ctx, "watched", wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, topic := range []string{"watched", "a", "b", "c"} {
		if err := pub(topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub("d"); !errors.Is(err, broker.ErrTopics) {
		t.Fatalf("fifth topic before the idle time: %v, want ErrTopics", err)
	}
	now = now.Add(time.Minute)
	if err := pub("d"); err != nil {
		t.Fatalf("fifth topic after the idle time: %v", err)
	}
	if _, err := b.Head(ctx, "watched"); err != nil || b.Topics() > 4 {
		t.Fatalf("watched topic: %v; %d topics", err, b.Topics())
	}
	head, _ := b.Head(ctx, "watched")
	if head.Offset != 1 {
		t.Errorf("the watched topic lost its history: head %v", head)
	}
}
