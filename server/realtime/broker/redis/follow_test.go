//go:build !js

package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// TestFollowerRecovers feeds a follower what the network could: an
// overflowing queue, a notification that skips offsets, a malformed one.
// Each makes it read the stream; subscribers see every message once, in
// order, and nothing that is not in Redis.
func TestFollowerRecovers(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	b, err := New(Config{URL: srv.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const topic = "recover"
	sub, err := b.Subscribe(ctx, topic, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f := sub.(*subscription).f
	epoch := sub.Start().Epoch
	next := uint64(1)
	publish := func(n int) {
		for range n {
			if _, err := b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(strconv.Itoa(int(next)))}}, broker.PublishOptions{}); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	want := uint64(1)
	readUpTo := func(last uint64) {
		t.Helper()
		for want <= last {
			ms, err := sub.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Offset != want || string(m.Data) != strconv.Itoa(int(want)) || m.Epoch != epoch {
					t.Fatalf("got %+v, want offset %d", m, want)
				}
				want++
			}
		}
	}
	for _, tc := range []struct {
		name   string
		inject func()
	}{
		{"overflow", func() { f.inMu.Lock(); f.overflow = true; f.inMu.Unlock() }},
		{"skipped offsets", func() { f.onMessage(rueidis.PubSubMessage{Message: "M " + epoch + " 1000 1\n1:x1:1"}) }},
		{"other epoch", func() { f.onMessage(rueidis.PubSubMessage{Message: "M other 1 1\n1:x1:1"}) }},
		{"malformed", func() { f.onMessage(rueidis.PubSubMessage{Message: "M " + epoch + " x"}) }},
		{"bad frame", func() {
			f.onMessage(rueidis.PubSubMessage{Message: "M " + epoch + " " + strconv.FormatUint(next, 10) + " 1\n9:x"})
		}},
	} {
		publish(3)
		tc.inject()
		publish(3)
		readUpTo(next - 1)
	}
	if h, _ := b.Head(ctx, topic); h.Offset != next-1 || h.Epoch != epoch {
		t.Fatalf("head %v, want %d in %s", h, next-1, epoch)
	}
}

// TestFlushFoundWithoutPublish: after FLUSHALL, with nothing published, a
// live subscriber still gets the epoch gap from the node's periodic check.
func TestFlushFoundWithoutPublish(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	b, err := New(Config{URL: srv.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.resync = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := b.Publish(ctx, "quiet", []wire.Draft{{}}, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "quiet", r.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := srv.Do(ctx, "FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	_, err = sub.Next(ctx)
	var gap *broker.GapError
	if !errors.As(err, &gap) || gap.Reason != wire.GapEpoch || gap.Want != r.Cursor {
		t.Fatalf("Next after a quiet FLUSHALL = %v, want an epoch gap", err)
	}
}
