//go:build js && wasm

package message

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

var (
	// ErrNoTargetOrigin: Post needs an explicit origin; "*" and "" are refused.
	ErrNoTargetOrigin = errors.New(`message: a target origin is required ("*" is refused)`)
	// ErrBadOrigin: an origin is not of the form scheme://host[:port].
	ErrBadOrigin = errors.New("message: origin must look like scheme://host[:port]")
	// ErrNoOrigins: Listen needs at least one allowed origin.
	ErrNoOrigins = errors.New("message: Listen needs at least one allowed origin")
	// ErrUnsupported: there is no window with postMessage (e.g. under node).
	ErrUnsupported = errors.New("message: window.postMessage is not available here")
	// ErrNoWindow: the target window does not exist (no parent, frame not loaded).
	ErrNoWindow = errors.New("message: no such window")
	// ErrClosed: the listener was closed.
	ErrClosed = errors.New("message: listener closed")
	// ErrOverflow: the queue filled because Next was not called often enough;
	// the listener stopped.
	ErrOverflow = errors.New("message: queue full, the reader fell behind; listener stopped")
)

// Target is a window that messages can be posted to.
type Target struct{ v js.Value }

// JSValue returns the underlying Window (or WindowProxy).
func (t Target) JSValue() js.Value { return t.v }

// window returns globalThis if it has postMessage and addEventListener.
func window() (js.Value, error) {
	g := js.Global()
	if g.Get("postMessage").Type() != js.TypeFunction || g.Get("addEventListener").Type() != js.TypeFunction {
		return js.Value{}, ErrUnsupported
	}
	return g, nil
}

// Self returns this window.
func Self() (Target, error) {
	w, err := window()
	return Target{w}, err
}

// Parent returns the window that embeds this one, or ErrNoWindow at the top.
func Parent() (Target, error) {
	w, err := window()
	if err != nil {
		return Target{}, err
	}
	p := w.Get("parent")
	if p.IsUndefined() || p.IsNull() || p.Equal(w) {
		return Target{}, ErrNoWindow
	}
	return Target{p}, nil
}

// Frame returns the window inside an iframe element.
func Frame(iframe js.Value) (Target, error) {
	if iframe.Type() != js.TypeObject {
		return Target{}, ErrNoWindow
	}
	w := iframe.Get("contentWindow")
	if w.IsUndefined() || w.IsNull() {
		return Target{}, ErrNoWindow
	}
	return Target{w}, nil
}

// Post sends data to t. targetOrigin is the origin the target window must
// have for the browser to deliver the message, or "/" for this window's own
// origin.
func (t Target) Post(targetOrigin, data string) error {
	if t.v.Type() != js.TypeObject && t.v.Type() != js.TypeFunction {
		return ErrNoWindow
	}
	if targetOrigin != "/" {
		o, err := NormalizeOrigin(targetOrigin)
		if err != nil {
			return err
		}
		targetOrigin = o
	}
	_, err := jsutil.Call(t.v, "postMessage", data, targetOrigin)
	if err != nil {
		return errors.Join(errors.New("message: postMessage failed"), err)
	}
	return nil
}

// NormalizeOrigin checks that s is an origin (scheme://host[:port], no path,
// query or user) and returns it in lower case without a trailing slash.
func NormalizeOrigin(s string) (string, error) {
	if s == "" || s == "*" {
		return "", ErrNoTargetOrigin
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", ErrBadOrigin
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Message is one message from an allowed origin.
type Message struct {
	Origin string // event.origin, set by the browser
	Data   string
	Source Target // the sending window; reply with Source.Post(Origin, …)
}

// Rejection reports a message the listener dropped.
type Rejection struct {
	Origin string // the origin the event carried
	Reason string // "origin not allowed" or "synthetic event (isTrusted false)"
}

// Options configure Listen.
type Options struct {
	// Origins whose messages are delivered. Required.
	Origins []string
	// Queue bounds the messages waiting for Next. Defaults to 64. When it
	// is full, the listener stops and Next returns ErrOverflow.
	Queue int
	// Rejected, if set, receives a notice for each dropped message. Sends
	// never block: when the channel is full the notice is skipped (Stats
	// still counts it).
	Rejected chan<- Rejection
	// AllowUntrusted accepts events dispatched by script, whose origin is
	// whatever the script wrote. Defaults to false.
	AllowUntrusted bool
}

// Stats counts what a listener saw.
type Stats struct {
	Delivered, Rejected int
}

// Listener receives messages posted to this window.
type Listener struct {
	allowed        map[string]bool
	allowUntrusted bool
	rejected       chan<- Rejection
	queueCap       int

	mu     sync.Mutex
	queue  []Message
	err    error // sticky: ErrClosed or ErrOverflow
	stats  Stats
	wake   jsutil.Signal
	remove func()
}

// Listen starts listening for message events on this window. Close it when
// done: it owns a js.Func.
func Listen(opts Options) (*Listener, error) {
	w, err := window()
	if err != nil {
		return nil, err
	}
	if len(opts.Origins) == 0 {
		return nil, ErrNoOrigins
	}
	l := &Listener{
		allowed:        map[string]bool{},
		allowUntrusted: opts.AllowUntrusted,
		rejected:       opts.Rejected,
		queueCap:       opts.Queue,
		wake:           jsutil.NewSignal(),
	}
	if l.queueCap <= 0 {
		l.queueCap = 64
	}
	for _, o := range opts.Origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		l.allowed[n] = true
	}
	l.remove = jsutil.Listen(w, "message", l.onMessage)
	return l, nil
}

// onMessage runs on the event loop: it only checks and hands off.
func (l *Listener) onMessage(ev js.Value) {
	origin := ev.Get("origin").String()
	reason := ""
	switch {
	case !ev.Get("isTrusted").Bool() && !l.allowUntrusted:
		reason = "synthetic event (isTrusted false)"
	case !l.allowed[strings.ToLower(origin)]:
		reason = "origin not allowed"
	}
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	if reason != "" {
		l.stats.Rejected++
		l.mu.Unlock()
		if l.rejected != nil {
			select {
			case l.rejected <- Rejection{Origin: origin, Reason: reason}:
			default:
			}
		}
		return
	}
	if len(l.queue) >= l.queueCap {
		l.err = ErrOverflow
		l.queue = nil
		l.mu.Unlock()
		l.wake.Notify()
		go l.remove() // not from inside the callback being removed
		return
	}
	l.queue = append(l.queue, Message{Origin: origin, Data: dataText(ev.Get("data")), Source: Target{ev.Get("source")}})
	l.stats.Delivered++
	l.mu.Unlock()
	l.wake.Notify()
}

// dataText returns a string as is, anything else as its JSON text.
func dataText(v js.Value) string {
	if v.Type() == js.TypeString {
		return v.String()
	}
	var s string
	jsutil.Try(func() {
		j := js.Global().Get("JSON").Call("stringify", v)
		if j.Type() == js.TypeString {
			s = j.String()
		}
	})
	return s
}

// Next returns the next message from an allowed origin, waiting for one
// until ctx ends. After Close it returns ErrClosed; after an overflow,
// ErrOverflow.
func (l *Listener) Next(ctx context.Context) (Message, error) {
	for {
		l.mu.Lock()
		if len(l.queue) > 0 {
			m := l.queue[0]
			l.queue[0] = Message{}
			l.queue = l.queue[1:]
			l.mu.Unlock()
			return m, nil
		}
		err := l.err
		l.mu.Unlock()
		if err != nil {
			return Message{}, err
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Stats returns the counts so far.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Close stops listening and releases the listener's js.Func. Messages still
// queued are dropped. It is idempotent.
func (l *Listener) Close() {
	l.mu.Lock()
	if l.err == nil {
		l.err = ErrClosed
	}
	l.queue = nil
	l.mu.Unlock()
	l.remove()
	l.wake.Notify()
}
