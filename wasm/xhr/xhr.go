//go:build js && wasm

package xhr

import (
	"context"
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// ResponseType selects how the browser hands over the body
// (XMLHttpRequest.responseType).
type ResponseType string

// Response types. The zero value means ResponseArrayBuffer: exact bytes.
const (
	ResponseArrayBuffer ResponseType = "arraybuffer" // Bytes: the exact body
	ResponseText        ResponseType = "text"        // Bytes: the body decoded by the browser, as UTF-8
	ResponseJSON        ResponseType = "json"        // parsed by the browser; Bytes: the JSON text
	ResponseBlob        ResponseType = "blob"        // Blob
	ResponseDocument    ResponseType = "document"    // Document (responseXML)
)

// ReadyState is XMLHttpRequest.readyState.
type ReadyState int

// Ready states, in the order they happen.
const (
	Unsent          ReadyState = 0
	Opened          ReadyState = 1
	HeadersReceived ReadyState = 2
	Loading         ReadyState = 3
	Done            ReadyState = 4
)

// Progress is one progress event of the download (the XMLHttpRequest) or
// of the upload (XMLHttpRequest.upload).
type Progress struct {
	// Type is "loadstart", "progress", "load", "error", "abort",
	// "timeout" or "loadend".
	Type             string
	Upload           bool
	Loaded, Total    int64
	LengthComputable bool
}

// Request describes one XMLHttpRequest. Only URL is required.
type Request struct {
	// Method defaults to GET and is upper-cased (XHR itself would leave
	// "patch" as is). CONNECT, TRACE and TRACK are refused.
	Method string
	// URL may be relative to the page.
	URL string
	// Query is appended to URL, encoded like encodeURIComponent. A
	// url.Values fits as is (the field is its underlying type, so this
	// package need not link net/url).
	Query map[string][]string
	// Header holds request headers. Names the browser forbids (Host,
	// Cookie, Origin, Referer, Content-Length, Sec-*, Proxy-*, …) make
	// Send fail with ErrForbiddenHeader instead of being dropped silently.
	Header Header
	// Body is nil, a string, []byte, url.Values or map[string][]string
	// (form-urlencoded; any value with an Encode() string method is sent
	// as its Encode, form-urlencoded), an Encoder (xhrjson.Body for
	// JSON), FormData, Blob, or an io.Reader (read fully first: XHR
	// cannot stream a request body).
	Body any
	// User and Password are passed to open() for HTTP authentication.
	// Cross-origin, Chromium does not send them alone: see "Basic
	// authentication" in the package doc.
	User, Password string
	// WithCredentials sends cookies and auth on cross-origin requests; the
	// server must answer with Access-Control-Allow-Credentials.
	WithCredentials bool
	// Timeout is XMLHttpRequest.timeout. Zero means none; ctx still rules.
	Timeout time.Duration
	// MimeType, if set, overrides the response's MIME type
	// (overrideMimeType), e.g. "text/xml" to parse a text/plain body.
	MimeType string
	// ResponseType defaults to ResponseArrayBuffer.
	ResponseType ResponseType
	// Sync sends a synchronous request. See the package doc: it blocks
	// the whole program and the page, ignores ctx while it runs, and
	// browsers allow it only with ResponseText and no Timeout.
	Sync bool

	// OnReadyState, if set, receives every readyState change (1 to 4) in
	// order. OnProgress gets the download's progress events, and
	// OnUploadProgress the upload's. They run on the goroutine that
	// called Send (or Read, for a Stream), never on the JavaScript event
	// loop, so they may block; while they do, "progress" events are
	// coalesced (the latest wins), and no other event is dropped.
	// Setting OnUploadProgress makes a cross-origin request
	// preflighted, as the XHR spec requires.
	OnReadyState     func(ReadyState)
	OnProgress       func(Progress)
	OnUploadProgress func(Progress)
}

// Get sends a GET request for url.
func Get(ctx context.Context, url string) (*Response, error) {
	return Send(ctx, &Request{URL: url})
}

// Send sends req and waits for the whole response. Cancelling ctx aborts
// the request at any stage, the body's arrival included. The error is an
// *Error wrapping ErrTimeout, ErrAborted, ErrNetwork or another sentinel,
// and context.Canceled or context.DeadlineExceeded when ctx ended it.
func Send(ctx context.Context, req *Request) (*Response, error) {
	c, err := start(ctx, req, false)
	if err != nil {
		return nil, err
	}
	err = c.waitEnd(ctx)
	var resp *Response
	if err == nil {
		resp, err = c.response(true)
	}
	c.release()
	return resp, err
}

// Stream sends req and returns once the response headers have arrived.
// Response.Body delivers the body as it arrives: each Read returns only
// new bytes of responseText. The body must be text (UTF-8). ctx keeps
// ruling while the body arrives; Close aborts the request.
//
// The browser keeps the whole body in responseText until the request
// ends, so a stream that never ends grows without bound: reconnect now
// and then. Chromium holds back the first 1,024 bytes of a text/plain
// response sent without X-Content-Type-Options: nosniff (see "Streaming"
// in the package doc).
func Stream(ctx context.Context, req *Request) (*Response, error) {
	if req != nil && req.Sync {
		return nil, &Error{Method: req.Method, URL: req.URL, Err: ErrSync}
	}
	c, err := start(ctx, req, true)
	if err != nil {
		return nil, err
	}
	for {
		ended, state := c.drain()
		if ended {
			if err := c.outcome(); err != nil {
				c.release()
				return nil, err
			}
		}
		// At Done, wait for loadend: it tells a load from an error.
		if ended || state == HeadersReceived || state == Loading {
			break
		}
		select {
		case <-c.sig:
		case <-ctx.Done():
			c.abort()
			c.drain()
			c.release()
			return nil, c.ctxErr(ctx)
		}
	}
	resp, err := c.response(false)
	if err != nil {
		c.release()
		return nil, err
	}
	resp.Body = newStreamBody(ctx, c)
	return resp, nil
}

// event is one queued XHR event: a readyState change or a progress event.
type event struct {
	_        [0]func()  // not comparable: no equality function linked
	state    ReadyState // for readystatechange; 0 otherwise
	progress Progress
}

// call is one request in flight. JavaScript callbacks only append to
// queue under mu and notify sig; the calling goroutine drains the queue
// and runs the observers.
type call struct {
	req    *Request
	method string
	url    string
	x      js.Value
	sig    jsutil.Signal

	mu        sync.Mutex
	queue     []event
	lastState ReadyState
	terminal  string      // first of load, error, abort, timeout
	ended     bool        // loadend queued
	ls        []listener  // added by on; removed by release
	end       jsutil.Func // listenEnd's terminal handler, if hasEnd
	hasEnd    bool
	released  bool
	batch     *jsutil.Batch // the events of a stream or progress-only request
	helper    js.Value      // the page's helper script, if hasHelper
	hasHelper bool

	deliver sync.Mutex // held while observers run: keeps their order
}

func start(ctx context.Context, req *Request, stream bool) (*call, error) {
	if req == nil {
		return nil, (&call{}).failText(ErrInvalid, "nil Request")
	}
	method := foldCase(req.Method, true)
	if method == "" {
		method = "GET"
	}
	c := &call{req: req, method: method, url: withQuery(req.URL, req.Query), sig: jsutil.NewSignal()}
	if ctx.Err() != nil { // ErrTimeout for a past deadline, as later on
		return nil, c.ctxErr(ctx)
	}
	header, rt, err := c.check(stream)
	if err != nil {
		return nil, err
	}
	ctor, ok := jsutil.Global("XMLHttpRequest")
	if !ok {
		return nil, c.failText(ErrUnsupported, "no XMLHttpRequest")
	}
	native := false
	if _, ok := req.Body.(Blob); ok { // only a Blob body needs to know
		native = jsutil.IsNative(ctor)
	}
	data, err := body(ctx, req.Body, header, native)
	if err != nil {
		switch {
		case errors.Is(err, ErrBodyType):
			err = c.fail(ErrBodyType, nil)
		case ctx.Err() != nil: // reading a Blob body was cut short
			err = c.ctxErr(ctx)
		default:
			err = c.fail(ErrInvalid, err)
		}
		return nil, err
	}
	x, err := jsutil.New(ctor)
	if err != nil {
		return nil, c.fail(ErrUnsupported, err)
	}
	c.x = x
	c.helper, c.hasHelper = jsutil.Helper()
	c.listen(stream)
	openArgs := []any{method, c.url, !req.Sync, req.User, req.Password}
	if req.User == "" && req.Password == "" {
		openArgs = openArgs[:3]
	}
	err = jsutil.Try(func() {
		x.Call("open", openArgs...)
		if rt != ResponseText { // "" is text: one boundary call less
			x.Set("responseType", string(rt))
		}
		if req.Timeout > 0 {
			x.Set("timeout", req.Timeout.Milliseconds())
		}
		if req.WithCredentials {
			x.Set("withCredentials", true)
		}
		if req.MimeType != "" {
			x.Call("overrideMimeType", req.MimeType)
		}
		for name, values := range header {
			for _, v := range values {
				x.Call("setRequestHeader", name, v)
			}
		}
	})
	if err != nil {
		c.release()
		return nil, c.fail(ErrInvalid, err)
	}
	if _, err := jsutil.Call(x, "send", data); err != nil {
		sentinel := ErrInvalid
		if req.Sync { // a synchronous request reports a network error by throwing
			sentinel = ErrNetwork
			c.drain()
		}
		c.release()
		return nil, c.fail(sentinel, err)
	}
	return c, nil
}

// check validates the method and the headers and returns the headers to
// send and the response type.
func (c *call) check(stream bool) (Header, ResponseType, error) {
	req := c.req
	switch c.method {
	case "CONNECT", "TRACE", "TRACK":
		return nil, "", c.fail(ErrForbiddenMethod, nil)
	}
	if !isToken(c.method) {
		return nil, "", c.failText(ErrInvalid, "method "+quote(req.Method))
	}
	header := Header{}
	for name, values := range req.Header {
		if Forbidden(name) {
			return nil, "", c.failText(ErrForbiddenHeader, name)
		}
		if !isToken(name) {
			return nil, "", c.failText(ErrInvalid, "header name "+quote(name))
		}
		for _, v := range values {
			if !validValue(v) {
				return nil, "", c.failText(ErrInvalid, "value of header "+name)
			}
			header.Add(name, v)
		}
	}
	rt := req.ResponseType
	switch {
	case rt == "" && req.Sync:
		rt = ResponseText
	case rt == "":
		rt = ResponseArrayBuffer
	}
	if stream {
		rt = ResponseText
	}
	if req.Sync && (rt != ResponseText || req.Timeout > 0) {
		return nil, "", c.failText(ErrSync, "use ResponseText and no Timeout")
	}
	return header, rt, nil
}

// fail returns the *Error of this request for sentinel and cause. Not
// inlined: one copy of the allocation serves every failure path.
//
//go:noinline
func (c *call) fail(sentinel, cause error) error {
	return &Error{Method: c.method, URL: c.url, Err: sentinel, Cause: cause}
}

// failText is fail with a cause made of text.
//
//go:noinline
func (c *call) failText(sentinel error, cause string) error {
	return c.fail(sentinel, errors.New(cause))
}

func quote(s string) string { return "\"" + s + "\"" }

// listen registers the listeners this request needs: one js.Func per
// target, added for each event name, all removed by release.
func (c *call) listen(stream bool) {
	if !c.req.Sync && c.req.OnReadyState == nil && c.req.OnUploadProgress == nil {
		if !stream && c.req.OnProgress == nil {
			c.listenEnd()
		} else {
			c.listenBatched()
		}
		return
	}
	events := allEvents[:6] // without loadstart and progress
	if c.req.OnProgress != nil || stream {
		events = allEvents
	}
	c.on(c.x, events, false)
	if c.req.OnUploadProgress != nil {
		c.on(c.x.Get("upload"), allEvents[1:], true)
	}
}

// allEvents are the XHR's event types: the upload's from index 1 on, the
// download's without progress from 0 to 5. (A package-level slice: a
// literal per call would be a heap array with its own type information.)
var allEvents = []string{"readystatechange", "load", "error", "abort", "timeout", "loadend", "loadstart", "progress"}

// listenEnd is listen for a request nobody observes: Go is woken once,
// by the terminal event (load, error, abort or timeout: exactly one per
// send), which tells the outcome; loadend follows it at once and is not
// listened to. No array, no bound function, no Go call for loadend.
func (c *call) listenEnd() {
	f := jsutil.FuncOf(func(_ js.Value, args []js.Value) any {
		terminal := "error"
		switch {
		case len(args) == 0:
		case args[0].Type() == js.TypeNumber: // from the helper's xhrEnd
			if i := args[0].Int(); i >= 0 && i < len(endTypes) {
				terminal = endTypes[i]
			}
		default:
			terminal = args[0].Get("type").String()
		}
		c.mu.Lock()
		if c.terminal == "" {
			c.terminal = terminal
		}
		c.ended = true
		c.lastState = Done
		c.mu.Unlock()
		c.sig.Notify()
		return nil
	})
	x := c.x
	if c.hasHelper {
		c.helper.Call("xhrEnd", x, f.Value)
	} else {
		x.Set("onload", f.Value)
		x.Set("onerror", f.Value)
		x.Set("onabort", f.Value)
		x.Set("ontimeout", f.Value)
	}
	c.mu.Lock()
	c.end, c.hasEnd = f, true
	c.mu.Unlock()
}

// endTypes are the terminal events by the helper's codes.
var endTypes = []string{"load", "error", "abort", "timeout"}

// progressKeys are what a batch reads of each XHR event.
var progressKeys = []string{"type", "loaded", "total", "lengthComputable"}

// listenBatched is listen for a stream or a download observed only by
// OnProgress: the events reach Go in batches (jsutil.Batch), and within
// a batch the readyState is read once.
func (c *call) listenBatched() {
	b := jsutil.NewBatch(c.x, jsutil.BatchOptions{Events: allEvents, Keys: progressKeys, Defer: true, OnBatch: func(it *jsutil.Items) {
		stateRead := false
		for i := 0; i < it.Len(); i++ {
			typ, _ := it.String(i, 0)
			if typ == "readystatechange" {
				if !stateRead { // only the latest matters: no OnReadyState
					stateRead = true
					c.noteState(ReadyState(c.x.Get("readyState").Int()))
				}
				continue
			}
			loaded, _ := it.Float(i, 1)
			total, _ := it.Float(i, 2)
			computable, _ := it.Bool(i, 3)
			c.queueProgress(Progress{Type: typ, Loaded: int64(loaded), Total: int64(total), LengthComputable: computable})
		}
		c.sig.Notify()
	}})
	c.mu.Lock()
	c.batch = b
	c.mu.Unlock()
}

// listener is one js.Func added by on for each of events on target.
type listener struct {
	target js.Value
	events []string
	f      jsutil.Func
}

// on adds one listener for each of events on target: the upload's
// progress events, or the request's readystatechange and progress events.
func (c *call) on(target js.Value, events []string, upload bool) {
	f := jsutil.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) == 0 {
			return nil
		}
		if ev := args[0]; !upload && ev.Get("type").String() == "readystatechange" {
			c.onReadyState(ev)
		} else {
			c.onProgress(ev, upload)
		}
		return nil
	})
	for _, name := range events {
		target.Call("addEventListener", name, f.Value)
	}
	c.mu.Lock()
	c.ls = append(c.ls, listener{target, events, f})
	c.mu.Unlock()
}

// onReadyState runs on the event loop: it only queues.
func (c *call) onReadyState(js.Value) {
	c.queueState(ReadyState(c.x.Get("readyState").Int()))
	c.sig.Notify()
}

// noteState records the readyState read after a batch of events, for a
// request without OnReadyState: nothing is queued, and Unsent (what
// abort leaves once its events have fired) does not count.
func (c *call) noteState(st ReadyState) {
	c.mu.Lock()
	if st > c.lastState {
		c.lastState = st
	}
	c.mu.Unlock()
}

// queueState queues a readyState change.
func (c *call) queueState(st ReadyState) {
	c.mu.Lock()
	if st != c.lastState {
		c.lastState = st
		c.queue = append(c.queue, event{state: st})
	}
	c.mu.Unlock()
}

// onProgress runs on the event loop: it queues, replacing a queued
// "progress" of the same target that nobody has taken yet.
func (c *call) onProgress(ev js.Value, upload bool) {
	c.queueProgress(Progress{
		Type:             ev.Get("type").String(),
		Upload:           upload,
		Loaded:           int64(ev.Get("loaded").Float()),
		Total:            int64(ev.Get("total").Float()),
		LengthComputable: ev.Get("lengthComputable").Equal(js.ValueOf(true)), // Value.Truthy is ~1 KB
	})
	c.sig.Notify()
}

// queueProgress queues p, replacing a queued "progress" of the same
// target that nobody has taken yet.
func (c *call) queueProgress(p Progress) {
	upload := p.Upload
	c.mu.Lock()
	n := len(c.queue)
	if p.Type == "progress" && n > 0 && c.queue[n-1].progress.Type == "progress" && c.queue[n-1].progress.Upload == upload {
		c.queue[n-1].progress = p
	} else {
		c.queue = append(c.queue, event{progress: p})
	}
	if !upload {
		switch p.Type {
		case "load", "error", "abort", "timeout":
			if c.terminal == "" {
				c.terminal = p.Type
			}
		case "loadend":
			c.ended = true
		}
	}
	c.mu.Unlock()
}

// drain runs the observers on the queued events, in order. It reports
// whether loadend has been delivered and the latest readyState seen.
func (c *call) drain() (ended bool, state ReadyState) {
	c.deliver.Lock()
	defer c.deliver.Unlock()
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	ended, state = c.ended, c.lastState
	c.mu.Unlock()
	for _, e := range q {
		switch {
		case e.state != 0:
			if c.req.OnReadyState != nil {
				c.req.OnReadyState(e.state)
			}
		case e.progress.Upload:
			if c.req.OnUploadProgress != nil {
				c.req.OnUploadProgress(e.progress)
			}
		default:
			if c.req.OnProgress != nil {
				c.req.OnProgress(e.progress)
			}
		}
	}
	return ended, state
}

// waitEnd delivers events until loadend, aborting if ctx ends first.
func (c *call) waitEnd(ctx context.Context) error {
	for {
		if ended, _ := c.drain(); ended {
			return c.outcome()
		}
		if c.req.Sync {
			// No loadend after a synchronous send means it failed.
			return c.fail(ErrNetwork, nil)
		}
		select {
		case <-c.sig:
		case <-ctx.Done():
			c.abort()
			c.drain()
			return c.ctxErr(ctx)
		}
	}
}

// outcome turns the terminal event into nil or an error.
func (c *call) outcome() error {
	c.mu.Lock()
	t := c.terminal
	c.mu.Unlock()
	sentinel, cause := ErrNetwork, error(nil)
	switch t {
	case "load":
		return nil
	case "timeout":
		sentinel, cause = ErrTimeout, context.DeadlineExceeded
	case "abort":
		sentinel = ErrAborted
	}
	return c.fail(sentinel, cause)
}

func (c *call) ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		err = errors.Join(err, cause) // e.g. http.Client's timeout
	}
	sentinel := ErrAborted
	if errors.Is(err, context.DeadlineExceeded) {
		sentinel = ErrTimeout
	}
	return c.fail(sentinel, err)
}

// abort calls XMLHttpRequest.abort; the browser fires abort and loadend
// synchronously if the request was still running.
func (c *call) abort() {
	jsutil.Call(c.x, "abort")
	if c.batch != nil {
		c.batch.Flush() // the abort and loadend events it just queued
	}
}

// release removes every listener; later calls do nothing.
func (c *call) release() {
	c.mu.Lock()
	done := c.released
	c.released = true
	c.mu.Unlock()
	if done {
		return
	}
	if c.hasEnd {
		// The handlers stay set: after the one terminal event nothing
		// calls them, and before it only abort, which release follows.
		c.end.Release()
	}
	if c.batch != nil {
		c.batch.Release()
	}
	for _, l := range c.ls {
		for _, name := range l.events {
			l.target.Call("removeEventListener", name, l.f.Value)
		}
		l.f.Release()
	}
}

// response reads status, headers and, if full, the body: with the
// helper script, all but a body that is not text in one call.
func (c *call) response(full bool) (*Response, error) {
	x := c.x
	rt := c.req.ResponseType
	name := "response"
	if c.req.Sync || rt == ResponseText {
		rt, name = ResponseText, "responseText"
	}
	r := &Response{}
	if c.hasHelper {
		text := full && rt == ResponseText
		body := readResult(r, c.helper.Call("xhrResult", x, text).String())
		if text {
			r.data = []byte(body)
		}
		if text || !full {
			return r, nil
		}
	} else {
		r.Status = x.Get("status").Int()
		r.StatusText = x.Get("statusText").String()
		r.URL = x.Get("responseURL").String()
		all, text := x.Call("getAllResponseHeaders"), ""
		if all.Type() == js.TypeString {
			text = all.String()
		}
		r.Header = parseHeaders(text)
		if !full {
			return r, nil
		}
	}
	v := x.Get(name)
	switch rt {
	case ResponseBlob:
		if v.Type() == js.TypeObject {
			r.blob = Blob{v}
		}
		return r, nil
	case ResponseDocument:
		r.doc = v
		return r, nil
	case ResponseJSON:
		if v.IsNull() || v.IsUndefined() {
			return r, nil
		}
		v = js.Global().Get("JSON").Call("stringify", v)
	}
	// Text, JSON text, an ArrayBuffer, or a string from some polyfills.
	switch v.Type() {
	case js.TypeString:
		r.data = []byte(v.String())
	case js.TypeObject:
		data, err := jsutil.BytesToGo(v)
		if err != nil {
			return nil, c.fail(ErrInvalid, err)
		}
		r.data = data
	}
	return r, nil
}

// readResult fills r from the helper's xhrResult: status, statusText,
// responseURL and the headers, each followed by "\n", then the body,
// which it returns. The headers' lines end in CRLF (none after the last
// in some polyfills), so the first LF after the third that has no CR
// before it ends them. What r keeps is copied out of s, so that a text
// body's string is not held by r's headers.
func readResult(r *Response, s string) (body string) {
	end := 0
	for lf := 0; end < len(s); end++ {
		if s[end] == '\n' && (lf < 3 || end > 0 && s[end-1] != '\r') {
			if lf++; lf == 4 {
				break
			}
		}
	}
	if end < len(s) {
		body = s[end+1:]
	}
	head := string([]byte(s[:end]))
	var f [3]string
	for i := range f {
		j := indexByte(head, '\n')
		if j < 0 {
			f[i], head = head, ""
			continue
		}
		f[i], head = head[:j], head[j+1:]
	}
	for i := 0; i < len(f[0]) && '0' <= f[0][i] && f[0][i] <= '9'; i++ {
		r.Status = r.Status*10 + int(f[0][i]-'0')
	}
	r.StatusText, r.URL = f[1], f[2]
	r.Header = parseHeaders(head)
	return body
}
