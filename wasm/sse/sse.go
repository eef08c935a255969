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
// reconnecting, or Options.MaxAttempts connection attempts failed in a
// row. EventSource does not say why, so Status and ContentType come from
// one diagnostic request made like EventSource's (see the package doc);
// Status is 0 when that request failed too, and then Reason says the
// cause is unknown.
type Error struct {
	URL         string
	Status      int
	ContentType string
	Reason      string
	// Attempts is the number of failed connection attempts in a row when
	// MaxAttempts ended the source; 0 when the browser gave up itself.
	Attempts int
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
	// FlushEvent names an event type the server sends after a burst of
	// events ("_flush", wire.SSEFlush, from comet's /realtime/sse and
	// /realtime/session/sse asked with flush=1): when one arrives, the
	// events of the burst reach Next at once instead of at the page's
	// next task, which Chromium runs 25-75 ms after a burst. Next never
	// returns it. Only with comet_batch.js (without it every event
	// reaches Go at once anyway). Defaults to none.
	FlushEvent string
	// OnState, if set, receives every ready-state change in order, on a
	// goroutine of the source (it may block without blocking the page):
	// CONNECTING first, then OPEN, CONNECTING again after a drop, and
	// CLOSED last (also after Close). A state is never reported twice in a row.
	OnState func(ReadyState)
	// MaxAttempts bounds the browser's reconnecting: when this many
	// connection attempts in a row fail (a refused port, a network
	// error), the source closes and Next returns an *Error. A stream that
	// drops does not count; every attempt after it that fails does.
	// Browsers retry every 3 s by default (or the server's retry: time)
	// forever. Defaults to 5; a negative value never gives up.
	MaxAttempts int
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

	last   ReadyState // the last state reported
	isOpen bool       // between open and the next error
	fails  int        // connection attempts failed in a row
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
	if s.opts.MaxAttempts == 0 {
		s.opts.MaxAttempts = 5
	}
	init := js.Global().Get("Object").New()
	init.Set("withCredentials", s.opts.WithCredentials)
	es, err := jsutil.New(ctor, url, init)
	if err != nil {
		return nil, errors.Join(ErrFailed, err)
	}
	s.es = es
	s.last = -1
	s.pushState(StateConnecting)
	flush := s.opts.FlushEvent
	if flush == "message" || flush == "open" || flush == "error" {
		flush = ""
	}
	events := []string{"message"}
	for _, name := range s.opts.Events {
		if name != "message" && name != "open" && name != "error" && name != flush {
			events = append(events, name)
		}
	}
	// Events reach Go once per batch (one by one without comet_batch.js).
	s.batch = jsutil.NewBatch(es, jsutil.BatchOptions{Events: events, Keys: eventKeys, OnBatch: s.onBatch, Flush: flush})
	onState := func(ev js.Value) { // one func for both: rare events
		if ev.Get("type").String() == "open" {
			s.onOpen()
		} else {
			s.onError()
		}
	}
	s.ls.Add(es, "open", onState)
	s.ls.Add(es, "error", onState)
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
			jsutil.Call(s.es, "close")
			s.pushStateLocked(StateClosed)
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

// onOpen runs on the event loop: a connection opened.
func (s *EventSource) onOpen() {
	s.batch.Flush() // events before the state change
	s.mu.Lock()
	s.isOpen, s.fails = true, 0
	s.pushStateLocked(StateOpen)
	s.mu.Unlock()
	s.stateSig.Notify()
}

// onError runs on the event loop: the browser reconnects (CONNECTING) or
// gave up (CLOSED). It counts failed attempts against MaxAttempts.
func (s *EventSource) onError() {
	s.batch.Flush()
	st := ReadyState(s.es.Get("readyState").Int())
	s.mu.Lock()
	if s.closed || s.err != nil {
		s.mu.Unlock()
		return
	}
	attempts := 0
	if st == StateConnecting {
		if s.isOpen {
			s.isOpen = false // a drop, not a failed attempt
		} else {
			s.fails++
		}
		if s.opts.MaxAttempts > 0 && s.fails >= s.opts.MaxAttempts {
			jsutil.Call(s.es, "close")
			st, attempts = StateClosed, s.fails
		}
	}
	s.pushStateLocked(st)
	s.mu.Unlock()
	s.stateSig.Notify()
	if st == StateClosed {
		go s.fail(attempts) // probing makes a request: not on the event loop
	}
}

func (s *EventSource) pushState(st ReadyState) {
	s.mu.Lock()
	s.pushStateLocked(st)
	s.mu.Unlock()
	s.stateSig.Notify()
}

// pushStateLocked queues st for OnState unless it is the current state
// or the source is closed. s.mu is held. Not inlined: five callers.
//
//go:noinline
func (s *EventSource) pushStateLocked(st ReadyState) {
	if st == s.last || s.closed {
		return
	}
	s.last = st
	if s.opts.OnState != nil {
		s.states = append(s.states, st)
	}
}

// reportStates calls OnState in order; after Close it reports what is
// left (CLOSED last) and returns.
func (s *EventSource) reportStates() {
	for {
		select {
		case <-s.stateSig:
		case <-s.done:
		}
		s.mu.Lock()
		states, closed := s.states, s.closed
		s.states = nil
		s.mu.Unlock()
		for _, st := range states {
			s.opts.OnState(st)
		}
		if closed {
			return
		}
	}
}

// fail records the terminal error after probing the URL for its reason.
func (s *EventSource) fail(attempts int) {
	s.mu.Lock()
	last := s.seenID
	s.mu.Unlock()
	e := probe(s.url, last, s.opts.WithCredentials, attempts, s.done)
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
	s.pushStateLocked(StateClosed)
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	jsutil.Call(s.es, "close")
	s.ls.RemoveAll()
	s.batch.Release()
	s.stop()
	s.wake.Notify()
}

// probe requests url once to learn why EventSource gave up: it reads the
// status and Content-Type, then aborts. It sends what EventSource sends
// and nothing a server would not see from it: Accept (CORS-safelisted)
// and, same-origin only, Last-Event-ID (cross-origin, that header on an
// XHR would be preflighted, and a server that answers no preflight
// would fail the probe instead of telling the reason).
func probe(url, lastID string, creds bool, attempts int, done <-chan struct{}) *Error {
	e := &Error{URL: url, Attempts: attempts}
	gaveUp := "the browser stopped reconnecting"
	if attempts > 0 {
		gaveUp = strconv.Itoa(attempts) + " connection attempts in a row failed"
	}
	e.Reason = gaveUp + "; the reason is unknown: a diagnostic request failed too (a network error, a refused connection, CORS or the page's policy: the browser does not say which)"
	ctor, ok := jsutil.Global("XMLHttpRequest")
	if !ok {
		return e
	}
	xhr, err := jsutil.New(ctor)
	if err != nil {
		return e
	}
	withheld := ""
	headers := make(chan struct{}, 1)
	remove := jsutil.Listen(xhr, "readystatechange", func(js.Value) {
		if xhr.Get("readyState").Int() >= 2 {
			select {
			case headers <- struct{}{}:
			default:
			}
		}
	})
	if jsutil.Try(func() {
		// sameOrigin throws where open would: for a URL that does not parse.
		if lastID != "" && !sameOrigin(url) {
			withheld, lastID = lastID, ""
		}
		xhr.Call("open", "GET", url)
		xhr.Set("withCredentials", creds)
		xhr.Set("timeout", probeTimeoutMillis)
		xhr.Call("setRequestHeader", "Accept", "text/event-stream")
		if lastID != "" {
			xhr.Call("setRequestHeader", "Last-Event-ID", lastID)
		}
		xhr.Call("send")
	}) != nil {
		remove()
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
	jsutil.Call(xhr, "abort")
	remove()
	switch {
	case e.Status == 0:
	case e.Status == 204:
		e.Reason = "204 No Content: the server ended the stream for good"
	case e.Status != 200:
		e.Reason = "status " + strconv.Itoa(e.Status)
	case !isEventStream(e.ContentType):
		e.Reason = "Content-Type " + jsutil.Quote(e.ContentType) + ", want text/event-stream"
	case withheld != "":
		e.Reason = gaveUp + "; the reason is unknown: a diagnostic request got an event stream, but without the reconnect's Last-Event-ID " +
			jsutil.Quote(withheld) + " (cross-origin, an XHR may not send that header without a preflight, which EventSource never makes)"
	default:
		e.Reason = gaveUp + "; a diagnostic request now gets an event stream: the cause has passed or is unknown"
	}
	return e
}

// probeTimeoutMillis bounds the diagnostic request.
const probeTimeoutMillis = 10000

// sameOrigin reports whether url is on the page's origin. Outside a page
// (node) there is no CORS, so it is true. It throws (a js.Error panic) if
// url does not parse.
func sameOrigin(url string) bool {
	loc := js.Global().Get("location")
	if loc.Type() != js.TypeObject {
		return true
	}
	u := js.Global().Get("URL").New(url, loc.Get("href"))
	return u.Get("origin").String() == loc.Get("origin").String()
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
