//go:build js && wasm

package message_test

import (
	"context"
	"errors"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/message"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", nil},
		{"HTTPS://Example.COM/", "https://example.com", nil},
		{"*", "", message.ErrNoTargetOrigin},
		{"", "", message.ErrNoTargetOrigin},
		{"example.com", "", message.ErrBadOrigin},
		{"http://example.com/path", "", message.ErrBadOrigin},
		{"http://user@example.com", "", message.ErrBadOrigin},
		{"http://example.com?q=1", "", message.ErrBadOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := message.NormalizeOrigin(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Fatalf("NormalizeOrigin(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestUnsupportedInNode(t *testing.T) {
	testenv.NodeOnly(t, "node has no window.postMessage; Chromium does")
	if _, err := message.Listen(message.Options{Origins: []string{"http://a.test"}}); !errors.Is(err, message.ErrUnsupported) {
		t.Fatalf("Listen err = %v, want ErrUnsupported", err)
	}
	if _, err := message.Self(); !errors.Is(err, message.ErrUnsupported) {
		t.Fatalf("Self err = %v, want ErrUnsupported", err)
	}
}

func TestPostRefusesWildcardAndBadOrigins(t *testing.T) {
	testenv.BrowserOnly(t, "needs window.postMessage")
	self, err := message.Self()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"*", "", "not an origin", "http://x.test/path"} {
		if err := self.Post(o, "hi"); err == nil {
			t.Errorf("Post(%q) succeeded, want an error", o)
		}
	}
	if _, err := message.Listen(message.Options{}); !errors.Is(err, message.ErrNoOrigins) {
		t.Errorf("Listen without origins: %v, want ErrNoOrigins", err)
	}
	if _, err := message.Parent(); !errors.Is(err, message.ErrNoWindow) {
		t.Errorf("Parent at the top: %v, want ErrNoWindow", err)
	}
}

// TestDeliversOnlyAllowedOrigins posts real messages to this window. The
// browser sets event.origin to the test page's origin.
func TestDeliversOnlyAllowedOrigins(t *testing.T) {
	testenv.BrowserOnly(t, "needs window.postMessage")
	page := js.Global().Get("location").Get("origin").String()
	base := testenv.MeasureRefs()
	rejected := make(chan message.Rejection, 8)
	own, err := message.Listen(message.Options{Origins: []string{page}, Rejected: rejected})
	if err != nil {
		t.Fatal(err)
	}
	other, err := message.Listen(message.Options{Origins: []string{testenv.SecondURL(t)}, Rejected: rejected})
	if err != nil {
		t.Fatal(err)
	}
	self, _ := message.Self()
	// A target origin that is not ours: the browser drops it silently, so
	// the first message to arrive must be the second one.
	if err := self.Post(testenv.SecondURL(t), "wrong target"); err != nil {
		t.Fatal(err)
	}
	if err := self.Post("/", "one"); err != nil {
		t.Fatal(err)
	}
	if err := self.Post(page, "two"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two"} {
		m, err := own.Next(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if m.Data != want || m.Origin != page {
			t.Fatalf("got %q from %q, want %q from %q", m.Data, m.Origin, want, page)
		}
	}
	// The other listener allows only the second origin: both were rejected.
	for range 2 {
		select {
		case r := <-rejected:
			if r.Origin != page || r.Reason != "origin not allowed" {
				t.Fatalf("rejection %+v", r)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no rejection reported")
		}
	}
	if s := other.Stats(); s.Delivered != 0 || s.Rejected != 2 {
		t.Fatalf("other listener stats %+v, want 0 delivered, 2 rejected", s)
	}
	own.Close()
	other.Close()
	own.Close()
	if _, err := own.Next(ctx(t)); !errors.Is(err, message.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	testenv.CheckRefs(t, base, 5)
}

// TestForgedOriginRejected dispatches a synthetic MessageEvent claiming an
// allowed origin, and one claiming a foreign origin.
func TestForgedOriginRejected(t *testing.T) {
	testenv.BrowserOnly(t, "needs window.postMessage")
	page := js.Global().Get("location").Get("origin").String()
	rejected := make(chan message.Rejection, 8)
	l, err := message.Listen(message.Options{Origins: []string{page}, Rejected: rejected})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	forge := func(origin string) {
		init := js.Global().Get("Object").New()
		init.Set("data", "forged")
		init.Set("origin", origin)
		js.Global().Call("dispatchEvent", js.Global().Get("MessageEvent").New("message", init))
	}
	forge(page)
	forge("http://evil.test")
	want := []message.Rejection{
		{Origin: page, Reason: "synthetic event (isTrusted false)"},
		{Origin: "http://evil.test", Reason: "synthetic event (isTrusted false)"},
	}
	for _, w := range want {
		if r := <-rejected; r != w {
			t.Fatalf("rejection %+v, want %+v", r, w)
		}
	}
	if s := l.Stats(); s.Delivered != 0 || s.Rejected != 2 {
		t.Fatalf("stats %+v", s)
	}

	// With AllowUntrusted the origin check alone decides.
	loose, err := message.Listen(message.Options{Origins: []string{page}, Rejected: rejected, AllowUntrusted: true})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	forge("http://evil.test")
	forge(page)
	m, err := loose.Next(ctx(t))
	if err != nil || m.Data != "forged" || m.Origin != page {
		t.Fatalf("loose listener got %+v, %v", m, err)
	}
	<-rejected // l rejects both; loose rejects evil.test
}

func TestOverflowStopsListener(t *testing.T) {
	testenv.BrowserOnly(t, "needs window.postMessage")
	base := testenv.MeasureRefs()
	l, err := message.Listen(message.Options{Origins: []string{js.Global().Get("location").Get("origin").String()}, Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	// A second listener sees the same events in the same order: once it
	// has the third, the small listener has seen all three.
	witness, err := message.Listen(message.Options{Origins: []string{js.Global().Get("location").Get("origin").String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer witness.Close()
	self, _ := message.Self()
	for range 3 {
		self.Post("/", "x")
	}
	for range 3 {
		if _, err := witness.Next(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	var got []error
	for range 3 {
		_, err := l.Next(ctx(t))
		got = append(got, err)
		if err != nil {
			break
		}
	}
	if last := got[len(got)-1]; !errors.Is(last, message.ErrOverflow) {
		t.Fatalf("Next errors %v, want ErrOverflow at the end", got)
	}
	l.Close()
	witness.Close()
	testenv.CheckRefs(t, base, 5)
}

func TestNextHonoursContext(t *testing.T) {
	testenv.BrowserOnly(t, "needs window.postMessage")
	l, err := message.Listen(message.Options{Origins: []string{"http://a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Next(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next = %v, want context.Canceled", err)
	}
}
