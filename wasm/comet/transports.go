//go:build js && wasm

package comet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/sse"
	"github.com/cometwasm/comet/wasm/xhr"
)

var (
	errEnded   = errors.New("comet: the server ended the stream")
	errRecycle = errors.New("comet: stream recycled to bound memory")
)

// ErrNetwork is a request that failed without a status (network error,
// CORS refusal, connection cut). Such errors also match xhr.ErrNetwork,
// and errors.As finds the *xhr.Error of the request.
var ErrNetwork = errors.New("comet: network error")

// StatusError is an HTTP answer other than the one a transport expects.
type StatusError struct {
	URL    string
	Status int
	Body   string // the first 200 bytes
}

func (e *StatusError) Error() string {
	return "comet: " + e.URL + ": status " + strconv.Itoa(e.Status) + ": " + e.Body
}

// statusError builds a *StatusError from an answer's body.
func statusError(url string, status int, body []byte) *StatusError {
	return &StatusError{URL: url, Status: status, Body: string(body[:min(len(body), 200)])}
}

// netError is a wasm/xhr error that matches ErrNetwork too.
type netError struct{ err error }

func (e *netError) Error() string   { return "comet: " + e.err.Error() }
func (e *netError) Unwrap() []error { return []error{ErrNetwork, e.err} }

// xhrError maps an error of wasm/xhr to this package's: a status-0
// failure also matches ErrNetwork; others are returned as they are.
func xhrError(err error) error {
	if errors.Is(err, xhr.ErrNetwork) {
		return &netError{err}
	}
	return err
}

// feedURL returns the URL of a transport endpoint with the feed's topic,
// cursor and heartbeat.
func feedURL(f Feed, path string, cursor Cursor, extra ...string) string {
	var b strings.Builder
	b.WriteString(f.URL)
	b.WriteString("/realtime/")
	b.WriteString(path)
	b.WriteString("?topic=")
	b.WriteString(f.Topic) // ValidTopic: no escaping needed
	if !cursor.IsZero() {
		b.WriteString("&cursor=")
		b.WriteString(cursor.String())
	}
	if f.Heartbeat > 0 {
		b.WriteString("&heartbeat=")
		b.WriteString(strconv.FormatInt(f.Heartbeat.Milliseconds(), 10))
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			b.WriteString("&" + extra[i] + "=" + extra[i+1])
		}
	}
	return b.String()
}

// batchSize is the max= of the next poll. An answer the network cut
// halves it (down to 1), so a link that cuts long responses still makes
// progress; each whole answer doubles it back, up to the limit.
type batchSize struct{ limit, cur int }

// newBatchSize starts at limit, or at the hub's default of 256 if limit <= 0.
func newBatchSize(limit int) *batchSize {
	if limit <= 0 {
		limit = 256
	}
	return &batchSize{limit: limit, cur: limit}
}

func (b *batchSize) param() string { return strconv.Itoa(b.cur) }

// after adjusts the size to the outcome of one poll.
func (b *batchSize) after(err error) {
	switch {
	case err == nil:
		b.cur = min(b.cur*2, b.limit)
	case errors.Is(err, ErrNetwork):
		b.cur = max(b.cur/2, 1)
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// deliverJSON decodes one envelope and delivers it.
func deliverJSON(f Feed, text []byte) error {
	var m Message
	if err := json.Unmarshal(text, &m); err != nil || m.Type == "" {
		return ErrEnvelope
	}
	return f.Deliver(m)
}

// SSE carries a feed over EventSource (package wasm/sse). The browser's
// own reconnection is kept: it resumes with Last-Event-ID, the cursor of
// the last envelope delivered. It asks for flush=1, so a replay reaches
// Go when its last event arrives (sse.Options.FlushEvent).
type SSE struct {
	// WithCredentials sends cookies cross-origin. Defaults to false.
	WithCredentials bool
	// Retry is the reconnection delay asked of the server (the retry:
	// field). Defaults to a quarter of the heartbeat, at most 1s.
	Retry time.Duration
}

// Name returns "sse".
func (SSE) Name() string { return "sse" }

// Run implements Transport.
func (t SSE) Run(ctx context.Context, f Feed) error {
	retry := t.Retry
	if retry <= 0 {
		retry = min(f.Heartbeat/4, time.Second)
	}
	retry = max(retry, 10*time.Millisecond)
	tok, err := f.token(ctx)
	if err != nil {
		return err
	}
	u := feedURL(f, "sse", f.From, "named", "0", "flush", "1", "retry", ms(retry), "token", url.QueryEscape(tok))
	src, err := sse.Open(ctx, u, &sse.Options{WithCredentials: t.WithCredentials, QueueSize: 8192, FlushEvent: wire.SSEFlush})
	if err != nil {
		return err
	}
	defer src.Close()
	for {
		ev, err := src.Next(ctx)
		if err != nil {
			return err
		}
		if err := deliverJSON(f, []byte(ev.Data)); err != nil {
			return err
		}
	}
}

// Stream carries a feed over one long XMLHttpRequest (xhr.Stream) whose
// newline-delimited envelopes are read as they arrive (readyState 3).
type Stream struct {
	// WithCredentials sends cookies cross-origin. Defaults to false.
	WithCredentials bool
	// MaxBytes ends the request after this many bytes of body so
	// responseText, which keeps the whole body, stays bounded; the
	// caller reconnects from its cursor. Defaults to 4 MiB.
	MaxBytes int
}

// Name returns "stream".
func (Stream) Name() string { return "stream" }

// Run implements Transport.
func (t Stream) Run(ctx context.Context, f Feed) error {
	limit := t.MaxBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	u := feedURL(f, "stream", f.From)
	tok, err := f.token(ctx)
	if err != nil {
		return err
	}
	resp, err := xhr.Stream(ctx, &xhr.Request{URL: u, WithCredentials: t.WithCredentials, Header: bearer(nil, tok)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return xhrError(err)
	}
	body := resp.Body
	defer body.Close() // aborts the request if it is still running
	if resp.Status != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
		text, _ := io.ReadAll(io.LimitReader(body, 200))
		return statusError(u, resp.Status, text)
	}
	var pending []byte // a line not yet complete
	buf := make([]byte, 32<<10)
	read := 0
	for {
		n, err := body.Read(buf)
		read += n
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			line := pending[:i]
			pending = pending[i+1:]
			if len(line) == 0 {
				continue
			}
			if err := deliverJSON(f, line); err != nil {
				return err
			}
		}
		switch {
		case err == io.EOF:
			return errEnded // a torn last line is dropped: the cursor says where to resume
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return xhrError(err)
		case read > limit:
			return errRecycle
		}
	}
}

// batch mirrors the server's answer to polls and long polls.
type batch struct {
	Topic    string    `json:"topic"`
	Messages []Message `json:"messages"`
	Cursor   Cursor    `json:"cursor"`
	Gap      *GapError `json:"gap"`
}

// deliverBatch delivers b's envelopes after cur and returns the new cursor.
func deliverBatch(f Feed, cur Cursor, b batch) (Cursor, error) {
	if b.Gap != nil {
		data, _ := json.Marshal(b.Gap)
		return cur, f.Deliver(Message{Topic: f.Topic, Epoch: b.Gap.Resume.Epoch, Offset: b.Gap.Resume.Offset, Type: TypeGap, Data: data})
	}
	if cur.IsZero() { // the first answer says where the feed starts
		if err := f.Deliver(Message{Topic: f.Topic, Epoch: b.Cursor.Epoch, Offset: b.Cursor.Offset, Type: TypeOpen, Data: json.RawMessage("null")}); err != nil {
			return cur, err
		}
		return b.Cursor, nil
	}
	if len(b.Messages) == 0 { // a sign of life
		return cur, f.Deliver(Message{Topic: f.Topic, Epoch: b.Cursor.Epoch, Offset: b.Cursor.Offset, Type: TypePing, Data: json.RawMessage("null")})
	}
	for _, m := range b.Messages {
		if err := f.Deliver(m); err != nil {
			return cur, err
		}
		cur = m.Cursor()
	}
	return cur, nil
}

// retrier counts consecutive failures of a polling loop.
type retrier struct {
	backoff time.Duration
	max     int
	n       int
}

// newRetrier applies the defaults of LongPoll and Poll: a first backoff
// of 1s and 3 failures in a row.
func newRetrier(backoff time.Duration, max int) *retrier {
	if backoff <= 0 {
		backoff = time.Second
	}
	if max <= 0 {
		max = 3
	}
	return &retrier{backoff: backoff, max: max}
}

// fail records err and waits before the next try, or returns err when
// there were too many failures in a row. 502 is retried at once (seed
// 004: a proxy timed the request out).
func (r *retrier) fail(ctx context.Context, err error) error {
	r.n++
	if refused, _ := authFailure(err); r.n > r.max || refused {
		return err // a 401 needs a new token, not the same request again
	}
	var se *StatusError
	if errors.As(err, &se) && se.Status == 502 {
		return nil
	}
	d := r.backoff << (r.n - 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// getBatch requests u and decodes the batch. It returns the answer's
// ETag too. etag, if set, is sent as If-None-Match.
func getBatch(ctx context.Context, f Feed, u string, creds bool, etag string) (b batch, status int, tag string, err error) {
	tok, err := f.token(ctx)
	if err != nil {
		return b, 0, "", err
	}
	req := &xhr.Request{URL: u, WithCredentials: creds, ResponseType: xhr.ResponseText, Header: bearer(nil, tok)}
	if etag != "" {
		req.Header = bearer(xhr.Header{"If-None-Match": {etag}}, tok)
	}
	resp, err := xhr.Send(ctx, req)
	if err != nil {
		return b, 0, "", xhrError(err)
	}
	switch resp.Status {
	case 200:
		if json.Unmarshal(resp.Bytes(), &b) != nil || b.Cursor.IsZero() && b.Gap == nil {
			return b, resp.Status, "", ErrEnvelope
		}
		return b, resp.Status, resp.Header.Get("ETag"), nil
	case 304:
		return b, resp.Status, resp.Header.Get("ETag"), nil
	}
	return b, resp.Status, "", statusError(u, resp.Status, resp.Bytes())
}

// LongPoll carries a feed over hanging GETs: each waits until there is a
// message after the cursor or the heartbeat passes, and the next is sent
// at once. After a 502 it re-requests at once; after other failures it
// backs off, and gives up after MaxFailures in a row.
type LongPoll struct {
	// WithCredentials sends cookies cross-origin. Defaults to false.
	WithCredentials bool
	// Backoff is the first wait after a failure; it doubles. Defaults to 1s.
	Backoff time.Duration
	// MaxFailures in a row end Run. Defaults to 3.
	MaxFailures int
	// MaxBatch bounds the messages of one answer. Defaults to 256, the
	// hub's default limit. An answer the network cut halves the next
	// batch, down to one message, and whole answers grow it back.
	MaxBatch int
}

// Name returns "longpoll".
func (LongPoll) Name() string { return "longpoll" }

// Run implements Transport.
func (t LongPoll) Run(ctx context.Context, f Feed) error {
	r := newRetrier(t.Backoff, t.MaxFailures)
	wait := f.Heartbeat
	if wait <= 0 {
		wait = 25 * time.Second
	}
	cur, size := f.From, newBatchSize(t.MaxBatch)
	for {
		b, _, _, err := getBatch(ctx, f, feedURL(Feed{URL: f.URL, Topic: f.Topic}, "longpoll", cur, "timeout", ms(wait), "max", size.param()), t.WithCredentials, "")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		size.after(err)
		if err != nil {
			if err := r.fail(ctx, err); err != nil {
				return err
			}
			continue
		}
		r.n = 0
		if cur, err = deliverBatch(f, cur, b); err != nil {
			return err
		}
	}
}

// Poll carries a feed over short polls every Interval, each with the
// last ETag in If-None-Match, so an unchanged topic costs a 304.
type Poll struct {
	// WithCredentials sends cookies cross-origin. Defaults to false.
	WithCredentials bool
	// Interval between polls. Defaults to 2s. A full batch is followed
	// by the next poll at once.
	Interval time.Duration
	// Backoff, MaxFailures and MaxBatch: as for LongPoll.
	Backoff     time.Duration
	MaxFailures int
	MaxBatch    int
}

// Name returns "poll".
func (Poll) Name() string { return "poll" }

// Run implements Transport.
func (t Poll) Run(ctx context.Context, f Feed) error {
	r := newRetrier(t.Backoff, t.MaxFailures)
	interval := t.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	cur, etag, size := f.From, "", newBatchSize(t.MaxBatch)
	for {
		asked := size.cur
		b, status, tag, err := getBatch(ctx, f, feedURL(Feed{URL: f.URL, Topic: f.Topic}, "poll", cur, "max", size.param()), t.WithCredentials, etag)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		size.after(err)
		if err != nil {
			if err := r.fail(ctx, err); err != nil {
				return err
			}
			continue
		}
		r.n = 0
		if status == 304 {
			b = batch{Topic: f.Topic, Cursor: cur}
		}
		n := len(b.Messages)
		if cur, err = deliverBatch(f, cur, b); err != nil {
			return err
		}
		etag = tag
		if n >= asked && b.Gap == nil {
			continue // a full batch: maybe more, ask again at once
		}
		tm := time.NewTimer(interval)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		}
	}
}
