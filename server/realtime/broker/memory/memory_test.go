//go:build !js

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

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
