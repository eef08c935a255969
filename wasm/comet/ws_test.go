//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/ws"
)

// wsFetch makes a same-origin request with fetch and returns the JSON
// answer.
func wsFetch(t *testing.T, ctx context.Context, method, path, body string) js.Value {
	t.Helper()
	init := js.Global().Get("Object").New()
	init.Set("method", method)
	if body != "" {
		init.Set("body", body)
		headers := js.Global().Get("Object").New()
		headers.Set("Content-Type", "application/json")
		init.Set("headers", headers)
	}
	resp, err := jsutil.Await(ctx, js.Global().Call("fetch", testenv.ServerURL(t)+path, init))
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsutil.Await(ctx, resp.Call("json"))
	if err != nil || resp.Get("status").Int() != 200 {
		t.Fatalf("%s %s: status %d, %v", method, path, resp.Get("status").Int(), err)
	}
	return v
}

// wsPublish publishes n messages (data 1..n) to topic and returns the
// cursor of the last.
func wsPublish(t *testing.T, ctx context.Context, topic string, n int) Cursor {
	t.Helper()
	c, err := ParseCursor(wsFetch(t, ctx, "POST", "/realtime/publish", testenv.PublishBody(topic, 1, n)).Get("cursor").String())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var errWSTestDone = errors.New("test: done")

func TestWSTransport(t *testing.T) {
	base := testenv.MeasureRefs()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := "wst-" + strconv.FormatUint(rand.Uint64(), 36)
	last := wsPublish(t, ctx, topic, 5)
	tr := WS{}
	if tr.Name() != "ws" {
		t.Errorf("Name = %q", tr.Name())
	}

	t.Run("resume from a cursor", func(t *testing.T) {
		var got []string
		err := tr.Run(ctx, Feed{
			URL: testenv.ServerURL(t), Topic: topic, From: Cursor{Epoch: last.Epoch, Offset: 2},
			Heartbeat: 100 * time.Millisecond,
			Deliver: func(m Message) error {
				if m.Topic != topic || m.Epoch != last.Epoch {
					t.Errorf("envelope %+v", m)
				}
				got = append(got, m.Type+":"+strconv.FormatUint(m.Offset, 10)+":"+string(m.Data))
				if m.Type == TypePing {
					return errWSTestDone
				}
				return nil
			},
		})
		if !errors.Is(err, errWSTestDone) {
			t.Fatalf("Run = %v, want Deliver's error", err)
		}
		want := "_open:2:null,message:3:3,message:4:4,message:5:5,_ping:5:null"
		if s := strings.Join(got, ","); s != want {
			t.Errorf("envelopes %s, want %s", s, want)
		}
	})

	t.Run("gap", func(t *testing.T) {
		var gap *GapError
		err := tr.Run(ctx, Feed{
			URL: testenv.ServerURL(t), Topic: topic, From: Cursor{Epoch: "gone", Offset: 3},
			Deliver: func(m Message) error {
				if m.Type == TypeGap {
					gap = gapFrom(m)
					return gap
				}
				return nil
			},
		})
		if !errors.Is(err, ErrGap) || gap.Reason != "epoch" || gap.Resume.Epoch != last.Epoch {
			t.Fatalf("Run from a lost epoch = %v (%+v), want a gap", err, gap)
		}
	})

	t.Run("ctx ends", func(t *testing.T) {
		rctx, rcancel := context.WithCancel(ctx)
		err := tr.Run(rctx, Feed{
			URL: testenv.ServerURL(t), Topic: topic,
			Deliver: func(m Message) error {
				if m.Type == TypeOpen {
					rcancel()
				}
				return nil
			},
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want Canceled", err)
		}
	})

	t.Run("no endpoint", func(t *testing.T) {
		err := WS{Path: "/ws/none"}.Run(ctx, Feed{URL: testenv.ServerURL(t), Topic: topic, Deliver: func(Message) error { return nil }})
		if !errors.Is(err, ws.ErrDial) {
			t.Fatalf("Run on a 404 = %v, want ws.ErrDial", err)
		}
	})
	testenv.CheckRefs(t, base, 10)
}

// TestWSTransportResumesAcrossCuts resumes Run from the last cursor, as
// Subscribe does, while the server cuts connections mid-stream: every
// message arrives once, in order.
func TestWSTransportResumesAcrossCuts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := "wscut-" + strconv.FormatUint(rand.Uint64(), 36)
	const n, cuts = 300, 5
	head := wsPublish(t, ctx, topic, n)
	wsFetch(t, ctx, "POST", "/test/realtime/faults", `{"topic":"`+topic+`","cuts":`+strconv.Itoa(cuts)+`,"every":40}`)
	from := Cursor{Epoch: head.Epoch}
	var got []uint64
	runs := 0
	for len(got) < n && runs < 50 {
		runs++
		err := WS{}.Run(ctx, Feed{URL: testenv.ServerURL(t), Topic: topic, From: from, Deliver: func(m Message) error {
			if m.IsControl() {
				return nil
			}
			got = append(got, m.Offset)
			from = m.Cursor()
			if len(got) == n {
				return errWSTestDone
			}
			return nil
		}})
		if err == nil || ctx.Err() != nil {
			t.Fatalf("Run = %v", err)
		}
	}
	for i, off := range got {
		if off != uint64(i+1) {
			t.Fatalf("message %d has offset %d: lost or duplicated", i, off)
		}
	}
	if len(got) != n {
		t.Fatalf("got %d of %d messages in %d runs", len(got), n, runs)
	}
	if done := wsFetch(t, ctx, "GET", "/test/realtime/faults?topic="+topic, "").Get("cuts").Int(); done != cuts || runs != cuts+1 {
		t.Errorf("%d cuts done in %d runs, want %d cuts and %d runs", done, runs, cuts, cuts+1)
	}
}
