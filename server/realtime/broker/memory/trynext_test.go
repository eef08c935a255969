//go:build !js

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

type tryNexter interface {
	TryNext(ready func()) ([]wire.Message, error)
}

// TestTryNext: TryNext answers at once; with nothing to read it calls its
// callback exactly once when Next would not wait: after a publish, the
// subscription's Close, the end of its context, and the broker's Close.
func TestTryNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		wake    func(b *memory.Broker, sub broker.Subscription, cancel context.CancelFunc)
		wantErr error // of TryNext after the callback; nil: a message
	}{
		{"publish", func(b *memory.Broker, _ broker.Subscription, _ context.CancelFunc) {
			b.Publish(context.Background(), "t", []wire.Draft{{Data: json.RawMessage(`2`)}}, broker.PublishOptions{})
		}, nil},
		{"close", func(_ *memory.Broker, sub broker.Subscription, _ context.CancelFunc) { sub.Close() }, broker.ErrClosed},
		{"context", func(_ *memory.Broker, _ broker.Subscription, cancel context.CancelFunc) { cancel() }, broker.ErrClosed},
		{"broker", func(b *memory.Broker, _ broker.Subscription, _ context.CancelFunc) { b.Close() }, broker.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := memory.New(broker.Limits{})
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.Publish(ctx, "t", []wire.Draft{{Data: json.RawMessage(`1`)}}, broker.PublishOptions{})
			sub, err := b.Subscribe(ctx, "t", wire.Cursor{})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			tn := sub.(tryNexter)
			calls := make(chan struct{}, 4)
			ready := func() { calls <- struct{}{} }
			if ms, err := tn.TryNext(ready); ms != nil || err != nil {
				t.Fatalf("TryNext with nothing new: %v, %v", ms, err)
			}
			if ms, err := tn.TryNext(ready); ms != nil || err != nil { // re-armed, not doubled
				t.Fatalf("TryNext again: %v, %v", ms, err)
			}
			tc.wake(b, sub, cancel)
			select {
			case <-calls:
			case <-time.After(10 * time.Second):
				t.Fatal("the callback was not called")
			}
			ms, err := tn.TryNext(func() {})
			switch {
			case tc.wantErr == nil && (err != nil || len(ms) != 1 || string(ms[0].Data) != "2"):
				t.Errorf("after the callback: %v, %v; want message 2", ms, err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("after the callback: %v, %v; want %v", ms, err, tc.wantErr)
			}
			time.Sleep(50 * time.Millisecond)
			if n := len(calls); n != 0 {
				t.Errorf("the callback ran %d more times", n)
			}
		})
	}
}

// TestNextSharesRead: subscribers at the same position get one read of
// the history (the same backing array, capped so an append copies),
// each advancing its own cursor; one at another position gets its own.
func TestNextSharesRead(t *testing.T) {
	t.Parallel()
	b := memory.New(broker.Limits{})
	defer b.Close()
	ctx := context.Background()
	r, err := b.Publish(ctx, "t", []wire.Draft{{Data: json.RawMessage(`1`)}}, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var subs []broker.Subscription
	for range 3 {
		sub, err := b.Subscribe(ctx, "t", r.Cursor)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subs = append(subs, sub)
	}
	if _, err := b.Publish(ctx, "t", []wire.Draft{{Data: json.RawMessage(`2`)}, {Data: json.RawMessage(`3`)}}, broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	var first []wire.Message
	for i, sub := range subs {
		ms, err := sub.Next(ctx)
		if err != nil || len(ms) != 2 || string(ms[0].Data) != "2" || string(ms[1].Data) != "3" {
			t.Fatalf("sub %d: Next = %v, %v; want messages 2, 3", i, ms, err)
		}
		if cap(ms) != len(ms) {
			t.Fatalf("sub %d: cap %d, len %d: an append would write into the shared read", i, cap(ms), len(ms))
		}
		if first == nil {
			first = ms
		} else if &ms[0] != &first[0] {
			t.Fatalf("sub %d read the history again", i)
		}
	}
	if _, err := b.Publish(ctx, "t", []wire.Draft{{Data: json.RawMessage(`4`)}}, broker.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	late, err := b.Subscribe(ctx, "t", r.Cursor) // behind the others: messages 2, 3, 4
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	ms, err := late.Next(ctx)
	if err != nil || len(ms) != 3 || string(ms[2].Data) != "4" {
		t.Fatalf("late: Next = %v, %v; want messages 2, 3, 4", ms, err)
	}
	for i, sub := range subs {
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		ms, err := sub.Next(nctx)
		cancel()
		if err != nil || len(ms) != 1 || string(ms[0].Data) != "4" {
			t.Fatalf("sub %d: second Next = %v, %v; want message 4", i, ms, err)
		}
	}
}
