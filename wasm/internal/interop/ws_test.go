//go:build js && wasm

package interop_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/ws"
)

func dialGorilla(t *testing.T, ctx context.Context, path string, opts *ws.DialOptions) *ws.Conn {
	t.Helper()
	c, err := ws.Dial(ctx, testenv.Interop(t, "WS")+path, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestWSEchoGorilla: text messages up to 64 KiB and binary up to 4 MiB,
// a subprotocol, and a clean close, against gorilla/websocket.
func TestWSEchoGorilla(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 60*time.Second)
	c := dialGorilla(t, ctx, "/echo", &ws.DialOptions{Subprotocols: []string{"nope", "chat.v2", "chat.v1"}})
	if c.Subprotocol() != "chat.v1" {
		t.Fatalf("subprotocol %q, want chat.v1 (gorilla picks by its own order)", c.Subprotocol())
	}
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 4 << 20} {
		for _, typ := range []ws.MessageType{ws.MessageText, ws.MessageBinary} {
			if typ == ws.MessageText && size > 1<<20 {
				continue // slow in wasm on a loaded machine; binary covers 4 MiB
			}
			p := bytes.Repeat([]byte("é"), size/2)
			if err := c.Write(ctx, typ, p); err != nil {
				t.Fatalf("Write %v %d: %v", typ, len(p), err)
			}
			gt, got, err := c.Read(ctx)
			if err != nil || gt != typ || !bytes.Equal(got, p) {
				t.Fatalf("echo %v of %d bytes: %v %d bytes, %v", typ, len(p), gt, len(got), err)
			}
		}
	}
	if err := c.Close(ws.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestWSCloseCodes: a close the client starts (code and reason reach
// gorilla, which answers), and one gorilla starts with its own code and
// reason, both clean.
func TestWSCloseCodes(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 20*time.Second)
	c := dialGorilla(t, ctx, "/echo", nil)
	if err := c.Close(4000, "client bye"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c = dialGorilla(t, ctx, "/echo", nil)
	if err := c.Write(ctx, ws.MessageText, []byte("close:4321 server bye é")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	var ce ws.CloseError
	if !errors.Is(err, ws.ErrClosed) || !errors.As(err, &ce) || ce != (ws.CloseError{Code: 4321, Reason: "server bye é", WasClean: true}) {
		t.Fatalf("Read after gorilla's close: %v (%+v)", err, ce)
	}
}

// TestWSDialFailureSaysCauseIsHidden: a 403 (gorilla's default origin
// check), a refused port and a subprotocol mismatch all reach the page as
// a bare 1006; the error says the browser hides the cause and lists the
// likely ones.
func TestWSDialFailureSaysCauseIsHidden(t *testing.T) {
	t.Parallel()
	base := testenv.Interop(t, "WS")
	refused := "ws" + strings.TrimPrefix(testenv.Interop(t, "REFUSED"), "http")
	for _, tc := range []struct {
		name, url string
		protos    []string
	}{
		{"403 origin", base + "/strict", nil},
		{"refused port", refused + "/echo", nil},
		{"subprotocol mismatch", base + "/proto", []string{"other.v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "403 origin" && !testenv.InBrowser() {
				t.Skip("node's ws sends no Origin, which gorilla's check lets through")
			}
			c, err := ws.Dial(testCtx(t, 20*time.Second), tc.url, &ws.DialOptions{Subprotocols: tc.protos})
			if err == nil {
				c.CloseNow()
				t.Fatal("Dial succeeded")
			}
			msg := err.Error()
			if !errors.Is(err, ws.ErrDial) || ws.CloseStatus(err) != ws.StatusAbnormalClosure ||
				!strings.Contains(msg, "browser does not say why") || !strings.Contains(msg, "403") ||
				!strings.Contains(msg, "connection refused") || (tc.protos != nil) != strings.Contains(msg, "subprotocol") {
				t.Fatalf("Dial error %q: want ErrDial, 1006, and the likely causes", msg)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// TestWSReadLimitCloseIsClean: a message over ReadLimit makes the client
// close with 4009; gorilla answers the close frame, so the close is clean
// and the error must not say "(unclean)".
func TestWSReadLimitCloseIsClean(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 20*time.Second)
	c := dialGorilla(t, ctx, "/echo", &ws.DialOptions{ReadLimit: 100})
	if err := c.Write(ctx, ws.MessageBinary, make([]byte, 200)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	var ce ws.CloseError
	if !errors.Is(err, ws.ErrReadLimit) || !errors.As(err, &ce) || ce.Code != ws.StatusTooBig || !ce.WasClean ||
		strings.Contains(err.Error(), "unclean") {
		t.Fatalf("Read over the limit: %v (%+v), want ErrReadLimit and a clean 4009", err, ce)
	}
}

// TestWSReadDeadlineKeepsConn: unlike coder/websocket (which closes with
// 1008), Read's ctx bounds only the wait: the connection stays usable.
func TestWSReadDeadlineKeepsConn(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 20*time.Second)
	c := dialGorilla(t, ctx, "/echo", nil)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Read(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with an expiring ctx: %v", err)
	}
	if err := c.Write(ctx, ws.MessageText, []byte("still here")); err != nil {
		t.Fatalf("Write after the expired Read: %v", err)
	}
	if _, p, err := c.Read(ctx); err != nil || string(p) != "still here" {
		t.Fatalf("Read after the expired Read: %q, %v", p, err)
	}
}

// TestReconnectAfterDropReportsAttempt: gorilla drops the TCP connection
// (no close frame); the Client reports waiting for attempt 1, then
// connecting attempt 1, then open; never an Attempt 0 outside open.
func TestReconnectAfterDropReportsAttempt(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t, 30*time.Second)
	var mu sync.Mutex
	var events []ws.StateEvent
	opened := make(chan struct{}, 4)
	c := ws.Reconnect(ctx, testenv.Interop(t, "WS")+"/echo", &ws.ReconnectOptions{
		MinDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond,
		OnState: func(ev ws.StateEvent) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			if ev.State == ws.StateOpen {
				opened <- struct{}{}
			}
		},
	})
	defer c.Close()
	<-opened
	if err := c.Write(ctx, ws.MessageText, []byte("drop")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
	case <-ctx.Done():
		t.Fatal("no reconnect")
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, ev := range events {
		got = append(got, ev.State.String()+":"+string(rune('0'+ev.Attempt)))
	}
	want := []string{"connecting:1", "open:0", "waiting:1", "connecting:1", "open:0"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("states %v, want %v", got, want)
	}
	if events[2].Err == nil || ws.CloseStatus(events[2].Err) != ws.StatusAbnormalClosure {
		t.Fatalf("waiting after the drop: Err %v, want the 1006", events[2].Err)
	}
}
