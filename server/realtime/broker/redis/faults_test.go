//go:build !js

package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/brokertest"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
)

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// publisher publishes n messages (data = their index) with idempotency
// keys, retrying each on ErrUnavailable as a client would, until ctx ends.
func publisher(ctx context.Context, b broker.Broker, topic string, n int, pace func(i int)) error {
	for i := range n {
		pace(i)
		for {
			_, err := b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(strconv.Itoa(i))}}, broker.PublishOptions{IdempotencyKey: "p-" + strconv.Itoa(i)})
			if err == nil {
				break
			}
			if !errors.Is(err, broker.ErrUnavailable) {
				return fmt.Errorf("publish %d: %w", i, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("publish %d: %w", i, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// tally is what a resuming reader received.
type tally struct {
	got      map[int]int // data value -> times received
	order    bool        // offsets strictly contiguous within each epoch
	gaps     []*broker.GapError
	failures int // Next or Subscribe errors matching ErrUnavailable
	other    int // messages that are not the publisher's
}

func (ta tally) lostDup(n int) (lost, dup int) {
	for i := range n {
		switch c := ta.got[i]; {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	return lost, dup
}

// reader follows topic from cur until it has n distinct values,
// resubscribing from its cursor after every ErrUnavailable; on a gap it
// records it and resumes where the gap says (when acceptGaps).
func reader(ctx context.Context, b broker.Broker, topic string, cur wire.Cursor, n int, acceptGaps bool) (tally, error) {
	ta := tally{got: map[int]int{}, order: true}
	for len(ta.got) < n {
		sub, err := b.Subscribe(ctx, topic, cur)
		var gap *broker.GapError
		switch {
		case errors.As(err, &gap):
			ta.gaps = append(ta.gaps, gap)
			if !acceptGaps {
				return ta, err
			}
			cur = gap.Resume
			continue
		case errors.Is(err, broker.ErrUnavailable):
			ta.failures++
			select {
			case <-ctx.Done():
				return ta, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			continue
		case err != nil:
			return ta, err
		}
		for len(ta.got) < n {
			ms, err := sub.Next(ctx)
			if errors.As(err, &gap) {
				ta.gaps = append(ta.gaps, gap)
				if !acceptGaps {
					sub.Close()
					return ta, err
				}
				cur = gap.Resume
				break
			}
			if errors.Is(err, broker.ErrUnavailable) {
				ta.failures++
				break
			}
			if err != nil {
				sub.Close()
				return ta, err
			}
			for _, m := range ms {
				if m.Epoch == cur.Epoch && m.Offset != cur.Offset+1 {
					ta.order = false
				}
				if v, err := strconv.Atoi(string(m.Data)); err == nil {
					ta.got[v]++
				} else {
					ta.other++
				}
				cur = m.Cursor()
			}
		}
		sub.Close()
	}
	return ta, nil
}

// TestRestartWithAOFLosesNothing restarts Redis mid-stream while a
// publisher and a subscriber run: with the append-only file, nothing is
// lost or repeated, and no gap is reported.
func TestRestartWithAOFLosesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fsync string
		stop  func(*redisproc.Server)
	}{
		{"SIGTERM everysec", "everysec", (*redisproc.Server).Stop},
		{"SIGKILL always", "always", (*redisproc.Server).Kill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redisproc.ForTest(t, redisproc.Config{AppendOnly: true, Fsync: tc.fsync})
			b := newBroker(t, srv.URL(0), broker.Limits{History: 10000})
			ctx := testCtx(t, 90*time.Second)
			topic := brokertest.Topic("aof")
			start, err := b.Head(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			const n = 1000
			restarted := make(chan error, 1)
			pubErr := make(chan error, 1)
			go func() {
				pubErr <- publisher(ctx, b, topic, n, func(i int) {
					if i == n/2 {
						tc.stop(srv)
						go func() { time.Sleep(300 * time.Millisecond); restarted <- srv.Restart() }()
					}
				})
			}()
			ta, err := reader(ctx, b, topic, start, n, false)
			if err != nil {
				t.Fatalf("reader: %v (gaps %v)", err, ta.gaps)
			}
			if err := <-pubErr; err != nil {
				t.Fatal(err)
			}
			if err := <-restarted; err != nil {
				t.Fatal(err)
			}
			lost, dup := ta.lostDup(n)
			t.Logf("%s: %d messages, %d lost, %d duplicated, %d gaps, reader saw Redis unavailable %d times", tc.name, n, lost, dup, len(ta.gaps), ta.failures)
			if lost != 0 || dup != 0 || len(ta.gaps) != 0 || !ta.order {
				t.Fatalf("lost %d, duplicated %d, gaps %v, in order %v", lost, dup, ta.gaps, ta.order)
			}
			if ta.failures == 0 {
				t.Fatal("the reader never saw Redis go away: the restart did not happen mid-stream")
			}
			if h, err := b.Head(ctx, topic); err != nil || h.Offset != n || h.Epoch != start.Epoch {
				t.Fatalf("head after = %v, %v; want offset %d in epoch %s", h, err, n, start.Epoch)
			}
		})
	}
}

// TestLostHistoryGivesEpochGap: FLUSHALL, or a restart without
// persistence, starts a new epoch; readers of the old one get an explicit
// epoch gap, and the new epoch's offsets start again at 1.
func TestLostHistoryGivesEpochGap(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(t *testing.T, srv *redisproc.Server)
	}{
		{"FLUSHALL", func(t *testing.T, srv *redisproc.Server) {
			if _, err := srv.Do(context.Background(), "FLUSHALL"); err != nil {
				t.Fatal(err)
			}
		}},
		{"restart without persistence", func(t *testing.T, srv *redisproc.Server) {
			if err := srv.Restart(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redisproc.ForTest(t, redisproc.Config{})
			b := newBroker(t, srv.URL(0), broker.Limits{})
			other := newBroker(t, srv.URL(0), broker.Limits{})
			ctx := testCtx(t, 60*time.Second)
			topic := brokertest.Topic("lost")
			var old broker.Receipt
			for i := range 10 {
				var err error
				if old, err = b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(strconv.Itoa(i))}}, broker.PublishOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			live, err := b.Subscribe(ctx, topic, wire.Cursor{Epoch: old.Cursor.Epoch, Offset: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			if ms, err := live.Next(ctx); err != nil || len(ms) != 3 || ms[2].Offset != 10 {
				t.Fatalf("history = %v, %v; want offsets 8-10", ms, err)
			}
			tc.lose(t, srv)
			// A publish on another node lands in a new epoch at offset 1.
			var r broker.Receipt
			for {
				if r, err = other.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(`"new"`)}}, broker.PublishOptions{}); !errors.Is(err, broker.ErrUnavailable) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil || r.Cursor.Epoch == old.Cursor.Epoch || r.Cursor.Offset != 1 {
				t.Fatalf("publish after the loss = %+v, %v; want offset 1 of a new epoch", r, err)
			}
			// The live subscriber hears of it: a gap, or (its connection
			// was cut by the restart) ErrUnavailable and then a gap when it
			// resubscribes with its cursor.
			_, err = live.Next(ctx)
			var gap *broker.GapError
			for errors.Is(err, broker.ErrUnavailable) { // a client resubscribes
				time.Sleep(20 * time.Millisecond)
				_, err = b.Subscribe(ctx, topic, old.Cursor)
			}
			if !errors.As(err, &gap) || gap.Reason != wire.GapEpoch || gap.Resume != (wire.Cursor{Epoch: r.Cursor.Epoch}) || gap.Want != old.Cursor {
				t.Fatalf("live subscriber after the loss: %v; want an epoch gap from %v resuming at %s-0", err, old.Cursor, r.Cursor.Epoch)
			}
			t.Logf("%s: 10 messages in epoch %s, then %v", tc.name, old.Cursor.Epoch, gap)
			// Resuming where the gap says gives the new epoch's message.
			sub, err := b.Subscribe(ctx, topic, gap.Resume)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if ms, err := sub.Next(ctx); err != nil || len(ms) != 1 || ms[0].Cursor() != r.Cursor || string(ms[0].Data) != `"new"` {
				t.Fatalf("after the gap = %v, %v; want the new message at %v", ms, err, r.Cursor)
			}
			// Readers by cursor (polls) get the same gap.
			if _, err := other.Read(ctx, topic, old.Cursor, 0); !errors.As(err, &gap) || gap.Reason != wire.GapEpoch {
				t.Fatalf("read with the old cursor: %v, want an epoch gap", err)
			}
		})
	}
}

// TestFlushWithoutPublishGivesEpochGap: even when nothing is published
// after the flush, a reader that comes back with its cursor is told.
func TestFlushWithoutPublishGivesEpochGap(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	b := newBroker(t, srv.URL(0), broker.Limits{})
	ctx := testCtx(t, 30*time.Second)
	topic := brokertest.Topic("flush")
	r, err := b.Publish(ctx, topic, []wire.Draft{{}, {}}, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do(ctx, "FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	var gap *broker.GapError
	if _, err := b.Subscribe(ctx, topic, r.Cursor); !errors.As(err, &gap) || gap.Reason != wire.GapEpoch || gap.Resume.Epoch == r.Cursor.Epoch {
		t.Fatalf("subscribe with a cursor from before the flush: %v; want an epoch gap", err)
	}
	// The new epoch is stored: the next publish continues it.
	r2, err := b.Publish(ctx, topic, []wire.Draft{{}}, broker.PublishOptions{})
	if err != nil || r2.Cursor != (wire.Cursor{Epoch: gap.Resume.Epoch, Offset: 1}) {
		t.Fatalf("publish after = %+v, %v; want offset 1 of %s", r2, err, gap.Resume.Epoch)
	}
}

// TestRedisDown: with Redis killed, Publish, Health, Subscribe and live
// subscriptions fail with ErrUnavailable; once it is back (with its AOF),
// a subscriber resumes from its cursor with no loss.
func TestRedisDown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		down    func(*redisproc.Server)
		up      func(*redisproc.Server) error
		mayLand bool // the publish that failed may have reached Redis
	}{
		{"killed", (*redisproc.Server).Kill, (*redisproc.Server).Restart, false},
		{"hung", (*redisproc.Server).Pause, func(s *redisproc.Server) error { s.Resume(); return nil }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// everysec: Redis has written each reply's data to the file
			// (not yet synced) before it answers, which a SIGKILL keeps.
			srv := redisproc.ForTest(t, redisproc.Config{AppendOnly: true})
			b, err := redis.New(redis.Config{URL: srv.URL(0), Timeout: time.Second, Linger: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx := testCtx(t, 60*time.Second)
			topic := brokertest.Topic("down")
			first, err := b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(`0`)}}, broker.PublishOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := b.Subscribe(ctx, topic, wire.Cursor{Epoch: first.Cursor.Epoch})
			if err != nil {
				t.Fatal(err)
			}
			if ms, err := sub.Next(ctx); err != nil || len(ms) != 1 {
				t.Fatalf("first = %v, %v", ms, err)
			}
			cur := first.Cursor
			tc.down(srv)
			// (A hung Redis may still run it once it continues: a publish
			// that failed is retried with its idempotency key.)
			if _, err := b.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(`"during"`)}}, broker.PublishOptions{}); !errors.Is(err, broker.ErrUnavailable) {
				t.Fatalf("Publish with Redis %s = %v, want ErrUnavailable", tc.name, err)
			}
			if err := b.Health(ctx); !errors.Is(err, broker.ErrUnavailable) {
				t.Fatalf("Health with Redis %s = %v, want ErrUnavailable", tc.name, err)
			}
			if _, err := sub.Next(ctx); !errors.Is(err, broker.ErrUnavailable) {
				t.Fatalf("Next with Redis %s = %v, want ErrUnavailable", tc.name, err)
			}
			sub.Close()
			if s, err := b.Subscribe(ctx, topic, cur); !errors.Is(err, broker.ErrUnavailable) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Subscribe with Redis %s = %v, want ErrUnavailable", tc.name, err)
			}
			if err := tc.up(srv); err != nil {
				t.Fatal(err)
			}
			for b.Health(ctx) != nil {
				time.Sleep(20 * time.Millisecond)
			}
			const n = 100
			done := make(chan error, 1)
			go func() { done <- publisher(ctx, b, topic, n, func(int) {}) }()
			// Values 0..n-1 again: 0 was published before, so the reader
			// from cur wants 1..n-1 plus the new 0.
			ta, err := reader(ctx, b, topic, cur, n, false)
			if err != nil {
				t.Fatalf("resume from %v: %v", cur, err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			lost, dup := ta.lostDup(n)
			t.Logf("Redis %s and back: resumed from %v, %d messages, %d lost, %d duplicated; the publish that failed meanwhile landed %d times", tc.name, cur, n, lost, dup, ta.other)
			if lost != 0 || dup != 0 || len(ta.gaps) != 0 || !ta.order || ta.other > 1 || (ta.other == 1 && !tc.mayLand) {
				t.Fatalf("lost %d, duplicated %d, gaps %v, in order %v", lost, dup, ta.gaps, ta.order)
			}
		})
	}
}

// TestTwoNodes: two Brokers on one Redis are two nodes: a message
// published on one reaches the subscribers of the other, idempotency keys
// are shared, and many local subscribers cost one Redis subscription.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{})
	a := newBroker(t, srv.URL(0), broker.Limits{})
	b := newBroker(t, srv.URL(0), broker.Limits{})
	ctx := testCtx(t, 60*time.Second)
	topic := brokertest.Topic("nodes")
	const subs, n = 50, 200
	var wg sync.WaitGroup
	errs := make(chan error, subs)
	ready := make(chan struct{}, subs)
	for range subs {
		wg.Go(func() {
			sub, err := b.Subscribe(ctx, topic, wire.Cursor{})
			if err != nil {
				errs <- err
				return
			}
			defer sub.Close()
			ready <- struct{}{}
			want := sub.Start().Offset + 1
			for want <= n {
				ms, err := sub.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range ms {
					if m.Offset != want {
						errs <- fmt.Errorf("got offset %d, want %d", m.Offset, want)
						return
					}
					want++
				}
			}
		})
	}
	for range subs {
		select {
		case <-ready:
		case err := <-errs:
			t.Fatal(err)
		}
	}
	if got := b.Followed(); got != 1 {
		t.Fatalf("node b follows %d topics in Redis for %d local subscribers of one, want 1", got, subs)
	}
	if got := a.Followed(); got != 0 {
		t.Fatalf("node a follows %d topics, want 0 (it only publishes)", got)
	}
	for i := range n {
		if _, err := a.Publish(ctx, topic, []wire.Draft{{Data: json.RawMessage(strconv.Itoa(i))}}, broker.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	first, err := a.Publish(ctx, topic, []wire.Draft{{}}, broker.PublishOptions{IdempotencyKey: "once"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Publish(ctx, topic, []wire.Draft{{}}, broker.PublishOptions{IdempotencyKey: "once"})
	if err != nil || !again.Repeat || again.Cursor != first.Cursor {
		t.Fatalf("the key repeated on the other node = %+v, %v; want the first receipt %v", again, err, first.Cursor)
	}
	if h, err := b.Head(ctx, topic); err != nil || h != first.Cursor {
		t.Fatalf("head on b = %v, %v; want %v", h, err, first.Cursor)
	}
	// Presence is shared too.
	if fresh, err := a.Join(ctx, topic, wire.Member{Client: "c1", User: "ann"}, time.Minute); err != nil || !fresh {
		t.Fatalf("Join on a = %v, %v", fresh, err)
	}
	if fresh, err := b.Join(ctx, topic, wire.Member{Client: "c1", User: "ann"}, time.Minute); err != nil || fresh {
		t.Fatalf("the same member joining on b = %v, %v; want a refresh", fresh, err)
	}
	if ms, err := b.Members(ctx, topic); err != nil || len(ms) != 1 || ms[0].User != "ann" {
		t.Fatalf("members on b = %v, %v; want ann", ms, err)
	}
	if was, err := b.Leave(ctx, topic, "c1"); err != nil || !was {
		t.Fatalf("Leave on b = %v, %v", was, err)
	}
	if ms, err := a.Members(ctx, topic); err != nil || len(ms) != 0 {
		t.Fatalf("members on a after the leave on b = %v, %v", ms, err)
	}
	// The last subscriber gone, the node leaves the channel after Linger.
	for b.Followed() != 0 || b.Subscribers() != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("node b still follows %d topics with %d subscribers", b.Followed(), b.Subscribers())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLostWritesStartNewEpoch brings Redis back with an older append-only
// file, as a crash that lost its last writes would: the topic's head is
// below what the node had delivered. The node notices, a new epoch
// starts, and the reader gets an epoch gap: the lost offsets are never
// reused for other messages.
func TestLostWritesStartNewEpoch(t *testing.T) {
	t.Parallel()
	srv := redisproc.ForTest(t, redisproc.Config{AppendOnly: true, Fsync: "always"})
	b := newBroker(t, srv.URL(0), broker.Limits{})
	ctx := testCtx(t, 60*time.Second)
	topic := brokertest.Topic("lostwrites")
	pub := func(n int) (r broker.Receipt) {
		t.Helper()
		for range n {
			var err error
			for {
				if r, err = b.Publish(ctx, topic, []wire.Draft{{}}, broker.PublishOptions{}); !errors.Is(err, broker.ErrUnavailable) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	r10 := pub(10)
	sub, err := b.Subscribe(ctx, topic, r10.Cursor)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	srv.Stop()
	saved := t.TempDir()
	aof := filepath.Join(srv.Dir, "appendonlydir")
	if err := os.CopyFS(saved, os.DirFS(aof)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The subscription lost its channel; the reader resubscribes.
	if _, err := sub.Next(ctx); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("Next across the restart = %v, want ErrUnavailable", err)
	}
	sub.Close()
	r15 := pub(5)
	var cur wire.Cursor
	for {
		if sub, err = b.Subscribe(ctx, topic, r10.Cursor); !errors.Is(err, broker.ErrUnavailable) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for cur != r15.Cursor {
		ms, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cur = ms[len(ms)-1].Cursor()
	}
	// Redis comes back without offsets 11-15.
	srv.Stop()
	if err := os.RemoveAll(aof); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(aof, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("Next across the second restart = %v, want ErrUnavailable", err)
	}
	sub.Close()
	var gap *broker.GapError
	for {
		_, err = b.Subscribe(ctx, topic, cur)
		if !errors.Is(err, broker.ErrUnavailable) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.As(err, &gap) || gap.Reason != wire.GapEpoch || gap.Resume.Epoch == r10.Cursor.Epoch {
		t.Fatalf("resubscribe from %v after Redis lost 11-15: %v; want an epoch gap into a new epoch", cur, err)
	}
	if r := pub(1); r.Cursor != (wire.Cursor{Epoch: gap.Resume.Epoch, Offset: 1}) {
		t.Fatalf("next publish at %v, want offset 1 of the new epoch %s", r.Cursor, gap.Resume.Epoch)
	}
	t.Logf("Redis came back at offset 10 after the node had delivered %v: %v", cur, gap)
}
