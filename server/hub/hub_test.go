//go:build !js

package hub

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func publishN(t *testing.T, h *Hub, topic string, n int) []Message {
	t.Helper()
	var out []Message
	for i := range n {
		m, err := h.Publish(topic, "", json.RawMessage(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestCursorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Cursor
		err  bool
	}{
		{"", Cursor{}, false},
		{"abc123-0", Cursor{"abc123", 0}, false},
		{"9f86d081884c7d65-42", Cursor{"9f86d081884c7d65", 42}, false},
		{"-1", Cursor{}, true},
		{"abc", Cursor{}, true},
		{"abc-", Cursor{}, true},
		{"abc--1", Cursor{}, true},
		{"a b-1", Cursor{}, true},
		{"abc-18446744073709551616", Cursor{}, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseCursor(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ParseCursor(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
			}
			if err == nil && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestPublishValidates(t *testing.T) {
	t.Parallel()
	h := New(Config{MaxData: 10, MaxTopics: 2})
	for _, tc := range []struct {
		name, topic, typ string
		data             string
		want             error
	}{
		{"ok", "a", "", `1`, nil},
		{"default data", "a", "x", ``, nil},
		{"bad topic", "a b", "", `1`, ErrTopic},
		{"empty topic", "", "", `1`, ErrTopic},
		{"reserved type", "a", "_open", `1`, ErrType},
		{"newline type", "a", "x\ny", `1`, ErrType},
		{"not json", "a", "", `{`, ErrData},
		{"too large", "a", "", `"0123456789"`, ErrTooLarge},
		{"second topic", "b", "", `1`, nil},
		{"third topic", "c", "", `1`, ErrTopics},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := h.Publish(tc.topic, tc.typ, json.RawMessage(tc.data))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err == nil && (m.Offset == 0 || m.Epoch == "" || m.Type == "" || len(m.Data) == 0) {
				t.Fatalf("incomplete message %+v", m)
			}
		})
	}
}

func TestReadFromCursor(t *testing.T) {
	t.Parallel()
	h := New(Config{History: 10, MaxBatch: 4})
	ms := publishN(t, h, "t", 15) // offsets 1..15; 6..15 kept
	epoch := ms[0].Epoch
	for _, tc := range []struct {
		name      string
		from      Cursor
		offsets   []uint64
		next      Cursor
		gapReason string
	}{
		{"zero is the head", Cursor{}, nil, Cursor{epoch, 15}, ""},
		{"oldest kept", Cursor{epoch, 5}, []uint64{6, 7, 8, 9}, Cursor{epoch, 9}, ""},
		{"middle", Cursor{epoch, 12}, []uint64{13, 14, 15}, Cursor{epoch, 15}, ""},
		{"at head", Cursor{epoch, 15}, nil, Cursor{epoch, 15}, ""},
		{"evicted", Cursor{epoch, 4}, nil, Cursor{epoch, 5}, "evicted"},
		{"evicted from start", Cursor{epoch, 0}, nil, Cursor{epoch, 5}, "evicted"},
		{"other epoch", Cursor{"00ff", 12}, nil, Cursor{epoch, 5}, "epoch"},
		{"ahead", Cursor{epoch, 16}, nil, Cursor{epoch, 5}, "ahead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := h.Read("t", tc.from)
			var gap *GapError
			if tc.gapReason != "" {
				if !errors.As(err, &gap) || gap.Reason != tc.gapReason || !errors.Is(err, ErrGap) || b.Gap != gap {
					t.Fatalf("err = %v, want gap %q", err, tc.gapReason)
				}
				if gap.Resume != tc.next || gap.Oldest != 6 || gap.Want != tc.from {
					t.Fatalf("gap = %+v", gap)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []uint64
			for _, m := range b.Messages {
				got = append(got, m.Offset)
			}
			if len(got) != len(tc.offsets) || b.Cursor != tc.next {
				t.Fatalf("offsets %v cursor %v; want %v %v", got, b.Cursor, tc.offsets, tc.next)
			}
			for i := range got {
				if got[i] != tc.offsets[i] {
					t.Fatalf("offsets %v, want %v", got, tc.offsets)
				}
			}
		})
	}
}

func TestResetChangesEpoch(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	ms := publishN(t, h, "t", 3)
	ctx := context.Background()
	sub, err := h.Subscribe(ctx, "t", ms[0].Cursor())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := h.Reset("t"); err != nil {
		t.Fatal(err)
	}
	_, err = sub.Next(ctx)
	var gap *GapError
	if !errors.As(err, &gap) || gap.Reason != "epoch" || gap.Resume.Epoch == ms[0].Epoch || gap.Resume.Offset != 0 {
		t.Fatalf("Next after Reset: %v", err)
	}
	m, _ := h.Publish("t", "", nil)
	if m.Offset != 1 || m.Epoch != gap.Resume.Epoch {
		t.Fatalf("first message of the new epoch: %+v", m)
	}
}

func TestSubscribeDeliversInOrderConcurrently(t *testing.T) {
	t.Parallel()
	const subs, n = 8, 2000
	h := New(Config{History: n})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, subs)
	for range subs {
		sub, err := h.Subscribe(ctx, "t", Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sub.Close()
			want := uint64(1)
			for want <= n {
				ms, err := sub.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				for _, m := range ms {
					if m.Offset != want || string(m.Data) != strconv.Itoa(int(want-1)) {
						errs <- errors.New("out of order at " + strconv.Itoa(int(want)))
						return
					}
					want++
				}
			}
		}()
	}
	var pw sync.WaitGroup
	pw.Add(1)
	go func() { defer pw.Done(); publishN(t, h, "t", n) }()
	pw.Wait()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSlowSubscriberGetsGap(t *testing.T) {
	t.Parallel()
	h := New(Config{History: 5})
	sub, err := h.Subscribe(context.Background(), "t", Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	publishN(t, h, "t", 12)
	if _, err := sub.Next(context.Background()); !errors.Is(err, ErrGap) {
		t.Fatalf("Next after falling behind: %v, want a gap", err)
	}
}

func TestNextOrTicks(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	sub, _ := h.Subscribe(context.Background(), "t", Cursor{})
	defer sub.Close()
	tick := make(chan time.Time, 1)
	tick <- time.Time{}
	ms, err := sub.NextOr(context.Background(), tick)
	if ms != nil || err != nil {
		t.Fatalf("NextOr on a tick = %v, %v", ms, err)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	head, _ := h.Head("t")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	b, err := h.Wait(ctx, "t", Cursor{})
	if !errors.Is(err, context.DeadlineExceeded) || len(b.Messages) != 0 || b.Cursor != head {
		t.Fatalf("Wait timeout = %+v, %v", b, err)
	}
	done := make(chan Batch)
	go func() {
		b, _ := h.Wait(context.Background(), "t", head)
		done <- b
	}()
	h.Publish("t", "", json.RawMessage(`"x"`))
	b = <-done
	if len(b.Messages) != 1 || b.Cursor.Offset != 1 {
		t.Fatalf("Wait = %+v", b)
	}
}

func TestCloseWakesEveryone(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	sub, _ := h.Subscribe(context.Background(), "t", Cursor{})
	done := make(chan error)
	go func() { _, err := sub.Next(context.Background()); done <- err }()
	h.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	sub.Close()
	sub.Close()
	if _, err := h.Publish("t", "", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
}

func TestFaultsOffByDefault(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	if err := h.SetFaults("t", FaultPlan{Cuts: 1}); !errors.Is(err, ErrNoFaults) {
		t.Fatalf("SetFaults = %v", err)
	}
	if _, ok := h.NextFault("t"); ok {
		t.Fatal("a fault without Config.Faults")
	}
	h = New(Config{Faults: true})
	h.SetFaults("t", FaultPlan{Cuts: 2, Every: 3})
	for range 2 {
		f, ok := h.NextFault("t")
		if !ok || f.Stall || f.After > 3 {
			t.Fatalf("NextFault = %+v, %v", f, ok)
		}
		h.Faulted("t", f)
	}
	if _, ok := h.NextFault("t"); ok || h.Faults("t").Cuts != 2 {
		t.Fatalf("plan not used up: %+v", h.Faults("t"))
	}
}

// TestSubscribeLeaks subscribes and disconnects 1,000 times: every
// subscription is freed and no goroutine remains.
func TestSubscribeLeaks(t *testing.T) {
	h := New(Config{})
	before := runtime.NumGoroutine()
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		sub, err := h.Subscribe(ctx, "t", Cursor{})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { sub.Next(ctx); close(done) }()
		if i%2 == 0 {
			h.Publish("t", "", nil)
		}
		cancel() // the client leaves
		<-done
	}
	deadline := time.Now().Add(2 * time.Second)
	for h.Subscribers() != 0 && time.Now().Before(deadline) { // context.AfterFunc closes asynchronously
		time.Sleep(time.Millisecond)
	}
	if n := h.Subscribers(); n != 0 {
		t.Fatalf("%d subscriptions left open", n)
	}
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("goroutines: %d, before %d", n, before)
	}
}

// TestEvictsIdleEmptyTopics: at MaxTopics, a topic with no message, no
// subscriber and no fault plan makes room; others never do.
func TestEvictsIdleEmptyTopics(t *testing.T) {
	t.Parallel()
	h := New(Config{MaxTopics: 2})
	h.Publish("a", "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := h.Subscribe(ctx, "b", Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Read("c", Cursor{}); !errors.Is(err, ErrTopics) {
		t.Fatalf("full of kept topics: %v", err)
	}
	done := make(chan error)
	go func() { _, err := sub.Next(ctx); done <- err }()
	sub.Close()
	<-done
	if _, err := h.Read("c", Cursor{}); err != nil {
		t.Fatalf("after the subscriber left: %v", err)
	}
	if h.Topics() != 2 {
		t.Fatalf("%d topics", h.Topics())
	}
	if _, err := h.Head("a"); err != nil {
		t.Fatal(err)
	}
	b, _ := h.Read("a", Cursor{})
	if b.Cursor.Offset != 1 {
		t.Fatalf("the topic with a message was evicted: %+v", b)
	}
}
