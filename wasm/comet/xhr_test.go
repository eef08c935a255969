//go:build js && wasm

package comet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
)

// TestDefaultTransports: without Options.Transports, Subscribe and
// SubscribeFeed try WS, SSE, Stream, LongPoll, Poll in that order, and
// start on WS.
func TestDefaultTransports(t *testing.T) {
	for _, sf := range subscribers {
		t.Run(sf.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := newTopic("default")
			from := headOf(t, topic)
			switches := make(chan Switch, 16)
			sub, err := sf.f(ctx, topic, &Options{
				URL: testenv.ServerURL(t), From: from,
				OnSwitch: func(s Switch) {
					select {
					case switches <- s:
					default:
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			trs := sub.opts.Transports
			if sub.client != nil {
				trs = sub.client.opts.Transports
			}
			var names []string
			for _, tr := range trs {
				names = append(names, tr.Name())
			}
			if got := strings.Join(names, ","); got != "ws,sse,stream,longpoll,poll" {
				t.Errorf("default transports %s", got)
			}
			if p := (WS{}).url(Feed{URL: "http://h", Topic: "t"}); p != "ws://h/ws/realtime?topic=t" {
				t.Errorf("WS default URL %s", p)
			}
			publish(t, topic, 0, 3)
			for want := from.Offset + 1; want <= from.Offset+3; want++ {
				m, err := sub.Next(ctx)
				if err != nil || m.Offset != want {
					t.Fatalf("Next: %+v %v, want offset %d", m, err, want)
				}
			}
			if s := <-switches; s.From != "" || s.To != "ws" {
				t.Errorf("first switch %+v, want to ws", s)
			}
			if a := sub.Active(); a != "ws" {
				t.Errorf("Active = %q, want ws", a)
			}
		})
	}
}

// TestXHRErrors: the XHR transports report a failure without a status as
// ErrNetwork (which is also xhr.ErrNetwork), an unexpected answer as a
// *StatusError, and their ctx's end as the ctx's error.
func TestXHRErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const refused = "http://127.0.0.1:1" // nothing listens there
	feed := func(url string) Feed {
		return Feed{URL: url, Topic: "errors", Deliver: func(Message) error { return nil }}
	}
	trs := []Transport{Stream{}, LongPoll{Backoff: time.Millisecond, MaxFailures: 1}, Poll{Backoff: time.Millisecond, MaxFailures: 1}}
	for _, tr := range trs {
		t.Run(tr.Name(), func(t *testing.T) {
			err := tr.Run(ctx, feed(refused))
			var xe *xhr.Error
			if !errors.Is(err, ErrNetwork) || !errors.Is(err, xhr.ErrNetwork) || !errors.As(err, &xe) || !strings.HasPrefix(err.Error(), "comet: ") {
				t.Errorf("refused: %v, want ErrNetwork", err)
			}
			err = tr.Run(ctx, feed(testenv.ServerURL(t)+"/no/such/path"))
			var se *StatusError
			if !errors.As(err, &se) || se.Status != 404 || !strings.Contains(se.URL, "/no/such/path/realtime/") || errors.Is(err, ErrNetwork) {
				t.Errorf("404: %v (%+v), want a *StatusError", err, se)
			}
			cctx, ccancel := context.WithCancel(ctx)
			ccancel()
			if err := tr.Run(cctx, feed(testenv.ServerURL(t))); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled ctx: %v", err)
			}
		})
	}
}
