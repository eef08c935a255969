//go:build !js

package redis_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/brokertest"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
)

func newBroker(t testing.TB, url string, l broker.Limits) *redis.Broker {
	t.Helper()
	b, err := redis.New(redis.Config{URL: url, Limits: l, Timeout: 2 * time.Second, Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := redisproc.ForTest(t, redisproc.Config{})
	brokertest.Run(t, func(t testing.TB, l broker.Limits) broker.Broker { return newBroker(t, srv.URL(0), l) })
}

// TestBatchesAcrossChunks publishes batches of 50 on one node while 20
// subscribers on another follow: every message arrives once, in order,
// with its data, across the follower's chunk boundaries and evictions.
func TestBatchesAcrossChunks(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	a := newBroker(t, srv.URL(0), broker.Limits{History: 300})
	b := newBroker(t, srv.URL(0), broker.Limits{History: 300})
	ctx := testCtx(t, 60*time.Second)
	topic := brokertest.Topic("chunks")
	const subs, rounds, batch = 20, 30, 50
	progress := make([]atomic.Uint64, subs)
	errs := make(chan error, subs)
	var wg sync.WaitGroup
	for i := range subs {
		sub, err := b.Subscribe(ctx, topic, wire.Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			for want := uint64(1); want <= rounds*batch; {
				ms, err := sub.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range ms {
					if m.Offset != want || string(m.Data) != strconv.Quote("m"+strconv.FormatUint(want, 10)) {
						errs <- fmt.Errorf("subscriber %d: got %d %s, want offset %d", i, m.Offset, m.Data, want)
						return
					}
					want++
				}
				progress[i].Store(want - 1)
			}
		})
	}
	for r := range rounds {
		drafts := make([]wire.Draft, batch)
		for j := range drafts {
			drafts[j] = wire.Draft{Type: "t" + strconv.Itoa(j%3), Data: json.RawMessage(strconv.Quote("m" + strconv.Itoa(r*batch+j+1)))}
		}
		if _, err := a.Publish(ctx, topic, drafts, broker.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range progress { // keep every reader within the history
			for progress[i].Load() < uint64(r*batch) {
				select {
				case err := <-errs:
					t.Fatal(err)
				case <-time.After(time.Millisecond):
				}
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestIdleTopicsExpire: a topic nobody follows, publishes to or reads
// leaves Redis after IdleTTL (a reader coming back gets an epoch gap),
// while a topic a node follows stays however long it is quiet.
func TestIdleTopicsExpire(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	b, err := redis.New(redis.Config{URL: srv.URL(0), IdleTTL: 3 * time.Second, Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := testCtx(t, 60*time.Second)
	idle, kept := brokertest.Topic("idle"), brokertest.Topic("kept")
	draft := []wire.Draft{{Data: json.RawMessage(`1`)}}
	old, err := b.Publish(ctx, idle, draft, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Publish(ctx, kept, draft, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, kept, first.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	exists := func(topic string) bool {
		n, err := srv.Do(ctx, "EXISTS", "comet:{"+topic+"}:m", "comet:{"+topic+"}:s")
		if err != nil {
			t.Fatal(err)
		}
		return n != ":0"
	}
	if ttl, err := srv.Do(ctx, "PTTL", "comet:{"+idle+"}:s"); err != nil || ttl == ":-1" || ttl == ":-2" {
		t.Fatalf("PTTL of the idle topic's stream = %s, %v; want an expiry", ttl, err)
	}
	for exists(idle) {
		if ctx.Err() != nil {
			t.Fatal("the idle topic never expired")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Twice the TTL later the followed topic is still there.
	time.Sleep(3 * time.Second)
	if !exists(kept) {
		t.Fatal("a followed topic expired")
	}
	var gap *broker.GapError
	if _, err := b.Read(ctx, idle, old.Cursor, 10); !errors.As(err, &gap) || gap.Reason != "epoch" {
		t.Fatalf("read of the expired topic from %v: %v, want an epoch gap", old.Cursor, err)
	}
	next, err := b.Publish(ctx, kept, draft, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sub.Next(ctx)
	if err != nil || len(ms) != 1 || ms[0].Cursor() != next.Cursor {
		t.Fatalf("followed topic after the quiet: %v, %v; want %v", ms, err, next.Cursor)
	}
}
