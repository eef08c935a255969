//go:build js && wasm

package ws_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/ws"
)

func collect(ch chan ws.StateEvent) func(ws.StateEvent) {
	return func(ev ws.StateEvent) {
		select {
		case ch <- ev:
		default:
		}
	}
}

func TestReconnectAfterServerClose(t *testing.T) {
	base := testenv.MeasureRefs()
	ctx := testCtx(t, 20*time.Second)
	states := make(chan ws.StateEvent, 100)
	c := ws.Reconnect(ctx, wsBase(t)+"/test/ws/close?code=4000&reason=restart", &ws.ReconnectOptions{
		MinDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, OnState: collect(states),
	})
	// Every connection says "bye" and closes; Read goes on across them.
	for i := range 3 {
		if _, p, err := c.Read(ctx); err != nil || string(p) != "bye" {
			t.Fatalf("Read %d = %q, %v", i, p, err)
		}
	}
	c.Close()
	if c.State() != ws.StateClosed {
		t.Errorf("State after Close = %v", c.State())
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, ws.ErrClosed) {
		t.Errorf("Read after Close = %v", err)
	}
	if err := c.Write(ctx, ws.MessageText, []byte("x")); !errors.Is(err, ws.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	close(states)
	var waits int
	for ev := range states {
		if ev.State == ws.StateWaiting {
			waits++
			if ws.CloseStatus(ev.Err) != 4000 {
				t.Errorf("waiting after %v, want the server's 4000", ev.Err)
			}
		}
	}
	if waits < 2 {
		t.Errorf("%d waiting events, want at least 2", waits)
	}
	testenv.CheckRefs(t, base, 10)
}

func TestReconnectSendQueue(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	gate := make(chan struct{})
	opened := make(chan struct{}, 1)
	c := ws.Reconnect(ctx, wsBase(t)+"/ws/echo", &ws.ReconnectOptions{
		SendQueue: 3,
		OnState: func(ev ws.StateEvent) {
			if ev.State == ws.StateOpen {
				opened <- struct{}{}
			}
		},
		OnOpen: func(ctx context.Context, _ *ws.Conn) error {
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	defer c.Close()
	// Not open yet: three fit, the fourth fails at once.
	for i := range 3 {
		if err := c.Write(ctx, ws.MessageText, []byte(strconv.Itoa(i))); err != nil {
			t.Fatalf("queued Write %d: %v", i, err)
		}
	}
	if err := c.Write(ctx, ws.MessageText, []byte("3")); !errors.Is(err, ws.ErrSendQueueFull) {
		t.Fatalf("Write on a full queue = %v, want ErrSendQueueFull", err)
	}
	if c.Queued() != 3 {
		t.Errorf("Queued = %d", c.Queued())
	}
	close(gate)
	<-opened
	// Flushed in order, then direct writes follow them.
	if err := c.Write(ctx, ws.MessageText, []byte("4")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0", "1", "2", "4"} {
		if _, p, err := c.Read(ctx); err != nil || string(p) != want {
			t.Fatalf("Read = %q, %v; want %q", p, err, want)
		}
	}
}

func TestReconnectStopsWhenKicked(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	c := ws.Reconnect(ctx, wsBase(t)+"/test/ws/close?code=4001&reason=kicked", &ws.ReconnectOptions{MinDelay: 5 * time.Millisecond})
	defer c.Close()
	if _, p, err := c.Read(ctx); err != nil || string(p) != "bye" {
		t.Fatalf("Read = %q, %v", p, err)
	}
	_, _, err := c.Read(ctx)
	if !errors.Is(err, ws.ErrClosed) || ws.CloseStatus(err) != ws.StatusKicked {
		t.Fatalf("Read after the kick = %v, want ErrClosed with 4001", err)
	}
	if c.State() != ws.StateClosed {
		t.Errorf("State = %v, want closed", c.State())
	}
}

func TestReconnectBackoff(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	states := make(chan ws.StateEvent, 100)
	const minDelay = 4 * time.Millisecond
	// A 400 to the upgrade: every attempt fails at once.
	c := ws.Reconnect(ctx, wsBase(t)+"/ws/realtime?topic=bad%20topic", &ws.ReconnectOptions{
		MinDelay: minDelay, MaxDelay: 20 * time.Millisecond, Factor: 2, MaxAttempts: 5, OnState: collect(states),
	})
	defer c.Close()
	if _, _, err := c.Read(ctx); !errors.Is(err, ws.ErrClosed) {
		t.Fatalf("Read after MaxAttempts = %v", err)
	}
	c.Close()
	close(states)
	var delays []time.Duration
	attempts := 0
	for ev := range states {
		switch ev.State {
		case ws.StateConnecting:
			attempts++
		case ws.StateWaiting:
			if !errors.Is(ev.Err, ws.ErrDial) {
				t.Errorf("waiting after %v, want ErrDial", ev.Err)
			}
			delays = append(delays, ev.Delay)
		}
	}
	if attempts != 5 || len(delays) != 4 {
		t.Fatalf("%d attempts, %d waits; want 5 and 4", attempts, len(delays))
	}
	// 4, 8, 16, 20 (capped) ms, each spread by ±50%.
	for i, d := range delays {
		nominal := min(minDelay<<i, 20*time.Millisecond)
		if d < nominal/2 || d > nominal*3/2 {
			t.Errorf("delay %d = %v, want %v ±50%%", i+1, d, nominal)
		}
	}
}

func TestReconnectReportsReadLimitOnce(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	opened := make(chan struct{}, 10)
	c := ws.Reconnect(ctx, wsBase(t)+"/ws/echo", &ws.ReconnectOptions{
		MinDelay: 5 * time.Millisecond,
		Dial:     &ws.DialOptions{ReadLimit: 10},
		OnState: func(ev ws.StateEvent) {
			if ev.State == ws.StateOpen {
				opened <- struct{}{}
			}
		},
	})
	defer c.Close()
	<-opened
	if err := c.Write(ctx, ws.MessageBinary, make([]byte, 11)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Read(ctx); !errors.Is(err, ws.ErrReadLimit) || ws.CloseStatus(err) != ws.StatusTooBig {
		t.Fatalf("Read of an oversized message = %v, want ErrReadLimit 4009", err)
	}
	<-opened // the Client reconnected
	if err := c.Write(ctx, ws.MessageText, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "ok" {
		t.Fatalf("Read after reconnect = %q, %v", p, err)
	}
}
