//go:build js && wasm

package sse

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"sync"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// ReadyState is EventSource.readyState.
type ReadyState int

// The ready states.
const (
	StateConnecting ReadyState = 0 // CONNECTING
	StateOpen       ReadyState = 1 // OPEN
	StateClosed     ReadyState = 2 // CLOSED
)

func (s ReadyState) String() string {
	switch s {
	case StateConnecting:
		return "CONNECTING"
	case StateOpen:
		return "OPEN"
	case StateClosed:
		return "CLOSED"
	}
	return "ReadyState(" + strconv.Itoa(int(s)) + ")"
}

// Errors.
var (
	ErrClosed      = errors.New("sse: closed")                                   // after Close or the end of Open's context
	ErrOverflow    = errors.New("sse: queue overflow: the consumer is too slow") // Options.QueueSize reached
	ErrFailed      = errors.New("sse: the browser gave up the connection")       // matched by every *Error
	ErrUnsupported = errors.New("sse: EventSource is not available")             // no globalThis.EventSource
)

// Error is the terminal failure of a source: the browser stopped
// reconnecting. Status and ContentType come from a probe request; Status
// is 0 when the server could not be reached (or CORS refused it).
type Error struct {
	URL         string
	Status      int
	ContentType string
	Reason      string
}

func (e *Error) Error() string { return "sse: " + e.URL + ": " + e.Reason }

// Is makes errors.Is(err, ErrFailed) true.
func (e *Error) Is(target error) bool { return target == ErrFailed }

// Event is one dispatched event.
type Event struct {
	ID   string // lastEventId: the id of this event or the last one before it
	Type string // "message" unless the server sent an "event:" field
	Data string
}

// Options tunes Open. A nil *Options means the defaults.
type Options struct {
	// WithCredentials sends cookies cross-origin. Defaults to false.
	WithCredentials bool
	// Events lists further event types to receive besides "message".
	Events []string
	// QueueSize bounds the events waiting for Next. Defaults to 1024.
	QueueSize int
	// OnState, if set, receives every ready-state change in order, on a
	// goroutine of the source (it may block without blocking the page).
	OnState func(ReadyState)
}

// EventSource is an open event stream. Its methods are safe for
// concurrent use.
type EventSource struct {
	es    js.Value
	url   string
	opts  Options
	ls    jsutil.Listeners
	batch *jsutil.Batch
	wake  jsutil.Signal

	mu       sync.Mutex
	queue    []Event
	states   []ReadyState
	err      error  // sticky: set once, returned after the queue drains
	lastID   string // of the last event Next returned
	seenID   string // of the last event received
	closed   bool
	stateSig jsutil.Signal
	done     chan struct{}
	stop     func() bool
}

// Open connects to url. ctx bounds the life of the source: when it ends,
// the source closes.
func Open(ctx context.Context, url string, opts *Options) (*EventSource, error) {
	ctor, ok := jsutil.Global("EventSource")
	if !ok {
		return nil, ErrUnsupported
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &EventSource{url: url, wake: jsutil.NewSignal(), stateSig: jsutil.NewSignal(), done: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.QueueSize <= 0 {
		s.opts.QueueSize = 1024
	}
	init := js.Global().Get("Object").New()
	init.Set("withCredentials", s.opts.WithCredentials)
	es, err := jsutil.New(ctor, url, init)
	if err != nil {
		return nil, errors.Join(ErrFailed, err)
	}
	s.es = es
	events := []string{"message"}
	for _, name := range s.opts.Events {
		if name != "message" && name != "open" && name != "error" {
			events = append(events, name)
		}
	}
	// Events wait in a JavaScript array and reach Go once per batch.
	s.batch = jsutil.NewBatch(es, jsutil.BatchOptions{Events: events, Keys: eventKeys, OnBatch: s.onBatch, Defer: true})
	s.ls.Add(es, "open", func(js.Value) {
		s.batch.Flush() // events before the state change
		s.pushState(StateOpen)
	})
	s.ls.Add(es, "error", func(js.Value) {
		s.batch.Flush()
		st := ReadyState(s.es.Get("readyState").Int())
		s.pushState(st)
		if st == StateClosed {
			go s.fail() // probing makes a request: not on the event loop
		}
	})
	if s.opts.OnState != nil {
		go s.reportStates()
	}
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

// eventKeys are the properties of a MessageEvent a batch reads.
var eventKeys = []string{"type", "lastEventId", "data"}

// onBatch runs on the event loop: it queues a batch of events.
func (s *EventSource) onBatch(b *jsutil.Items) {
	s.mu.Lock()
	for i := 0; i < b.Len() && s.err == nil; i++ {
		if len(s.queue) >= s.opts.QueueSize {
			s.err = ErrOverflow
			jsutil.Try(func() { s.es.Call("close") })
			s.states = append(s.states, StateClosed)
			break
		}
		var e Event
		e.Type, _ = b.String(i, 0)
		e.ID, _ = b.String(i, 1)
		e.Data, _ = b.String(i, 2)
		s.queue = append(s.queue, e)
		s.seenID = e.ID
	}
	s.mu.Unlock()
	s.wake.Notify()
	s.stateSig.Notify()
}

func (s *EventSource) pushState(st ReadyState) {
	s.mu.Lock()
	s.states = append(s.states, st)
	s.mu.Unlock()
	s.stateSig.Notify()
}

// reportStates calls OnState in order until Close.
func (s *EventSource) reportStates() {
	for {
		select {
		case <-s.stateSig:
		case <-s.done:
			return
		}
		s.mu.Lock()
		states := s.states
		s.states = nil
		s.mu.Unlock()
		for _, st := range states {
			s.opts.OnState(st)
		}
	}
}

// fail records the terminal error after probing the URL for its reason.
func (s *EventSource) fail() {
	s.mu.Lock()
	last := s.seenID
	s.mu.Unlock()
	e := probe(s.url, last, s.opts.WithCredentials, s.done)
	s.mu.Lock()
	if s.err == nil {
		s.err = e
	}
	s.mu.Unlock()
	s.wake.Notify()
}

// Next returns the next event. After the queue drains it returns the
// terminal error: *Error when the browser gave up, ErrOverflow, or
// ErrClosed. When ctx ends first it returns ctx.Err().
func (s *EventSource) Next(ctx context.Context) (Event, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			e := s.queue[0]
			s.queue[0] = Event{}
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil
			}
			s.lastID = e.ID
			s.mu.Unlock()
			return e, nil
		}
		err := s.err
		if err == nil && s.closed {
			err = ErrClosed
		}
		s.mu.Unlock()
		if err != nil {
			return Event{}, err
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
}

// All iterates over the events until Next fails; the last pair carries
// the error (not for ctx's end or Close).
func (s *EventSource) All(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			e, err := s.Next(ctx)
			if err != nil {
				if !errors.Is(err, ErrClosed) && ctx.Err() == nil {
					yield(Event{}, err)
				}
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// ReadyState returns the current state.
func (s *EventSource) ReadyState() ReadyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return StateClosed
	}
	return ReadyState(s.es.Get("readyState").Int())
}

// LastEventID returns the id of the last event Next returned.
func (s *EventSource) LastEventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastID
}

// URL returns the URL the source was opened with.
func (s *EventSource) URL() string { return s.url }

// JSValue returns the EventSource object.
func (s *EventSource) JSValue() js.Value { return s.es }

// Close closes the EventSource and releases its listeners. Events already
// queued can still be read. It is idempotent.
func (s *EventSource) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	jsutil.Try(func() { s.es.Call("close") })
	s.ls.RemoveAll()
	s.batch.Release()
	s.stop()
	s.wake.Notify()
}

// probe requests url once to learn why EventSource gave up: it reads the
// status and Content-Type, then aborts.
func probe(url, lastID string, creds bool, done <-chan struct{}) *Error {
	e := &Error{URL: url, Reason: "connection failed (network error or CORS)"}
	ctor, ok := jsutil.Global("XMLHttpRequest")
	if !ok {
		return e
	}
	xhr, err := jsutil.New(ctor)
	if err != nil {
		return e
	}
	headers := make(chan struct{}, 1)
	var ls jsutil.Listeners
	defer ls.RemoveAll()
	ls.Add(xhr, "readystatechange", func(js.Value) {
		if xhr.Get("readyState").Int() >= 2 {
			select {
			case headers <- struct{}{}:
			default:
			}
		}
	})
	if jsutil.Try(func() {
		xhr.Call("open", "GET", url)
		xhr.Set("withCredentials", creds)
		xhr.Call("setRequestHeader", "Accept", "text/event-stream")
		if lastID != "" {
			xhr.Call("setRequestHeader", "Last-Event-ID", lastID)
		}
		xhr.Call("send")
	}) != nil {
		return e
	}
	select {
	case <-headers:
	case <-done:
	}
	e.Status = xhr.Get("status").Int()
	if ct := xhr.Call("getResponseHeader", "Content-Type"); ct.Type() == js.TypeString {
		e.ContentType = ct.String()
	}
	jsutil.Try(func() { xhr.Call("abort") })
	switch {
	case e.Status == 0:
	case e.Status == 204:
		e.Reason = "204 No Content: the server ended the stream for good"
	case e.Status != 200:
		e.Reason = "status " + strconv.Itoa(e.Status)
	case !isEventStream(e.ContentType):
		e.Reason = "Content-Type " + jsutil.Quote(e.ContentType) + ", want text/event-stream"
	default:
		e.Reason = "the browser stopped reconnecting"
	}
	return e
}

func isEventStream(ct string) bool {
	for i := 0; i < len(ct); i++ {
		if ct[i] == ';' || ct[i] == ' ' {
			ct = ct[:i]
			break
		}
	}
	return ct == "text/event-stream"
}
