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
	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/xhr"
)

// The session transports: the same WS, SSE, Stream, LongPoll and Poll
// values, on the session endpoints of the server (see server/wire,
// "Sessions").

var errSSEReconnect = errors.New("comet: the event stream dropped (the browser would reconnect with stale cursors)")

// sessionURL returns base/realtime/session/path with the subscriptions as
// sub=T,TOPIC,FROM and extra name/value pairs.
func sessionURL(base, path string, subs []wire.Command, extra ...string) string {
	q := url.Values{}
	for _, s := range subs {
		v := strconv.Itoa(s.T) + "," + s.Topic + "," + s.From
		if s.Presence {
			v += ",p"
		}
		q.Add("sub", v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] != "" {
			q.Add(extra[i], extra[i+1])
		}
	}
	u := base + "/realtime/session/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// postCmds sends commands to l's session: POST session/cmd?session=ID, a
// JSON array of wire.Command.
func postCmds(ctx context.Context, c *Client, l *link, creds bool, cmds []wire.Command) error {
	c.mu.Lock()
	id := l.session
	c.mu.Unlock()
	body, _ := json.Marshal(cmds)
	u := c.opts.URL + "/realtime/session/cmd?session=" + url.QueryEscape(id)
	rctx, cancel := context.WithTimeout(ctx, c.opts.ConfirmTimeout)
	defer cancel()
	tok, err := c.tokens.get(rctx)
	if err != nil {
		return err
	}
	resp, err := xhr.Send(rctx, &xhr.Request{Method: "POST", URL: u, Body: body, WithCredentials: creds, ResponseType: xhr.ResponseText,
		Header: bearer(xhr.Header{"Content-Type": {"application/json"}}, tok)})
	if err != nil {
		return xhrError(err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return statusError(u, resp.Status, resp.Bytes())
	}
	return nil
}

// wsURL turns an http(s) base URL into ws(s).
func wsURL(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + base[len("https://"):]
	case strings.HasPrefix(base, "http://"):
		return "ws://" + base[len("http://"):]
	}
	return base
}

type wsSession struct{ c *ws.Conn }

func (t WS) dialSession(ctx context.Context, c *Client, l *link, _ []wire.Command) (sconn, []wire.Command, error) {
	u := wsURL(c.opts.URL) + "/realtime/session/ws?heartbeat=" + ms(c.opts.Heartbeat) + "&key=" + c.pkey
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	if tok != "" {
		u += "&token=" + url.QueryEscape(tok)
	}
	conn, err := ws.Dial(ctx, u, t.Dial)
	if err != nil {
		return nil, nil, err
	}
	return wsSession{conn}, nil, nil
}

func (s wsSession) next(ctx context.Context) ([]byte, error) {
	typ, p, err := s.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != ws.MessageText {
		return nil, errProtocol
	}
	return p, nil
}

func (s wsSession) send(ctx context.Context, cmds []wire.Command) error {
	for _, cmd := range cmds {
		b, _ := json.Marshal(cmd)
		if err := s.c.Write(ctx, ws.MessageText, b); err != nil {
			return err
		}
	}
	return nil
}

func (s wsSession) close() { s.c.CloseNow() }

type sseSession struct {
	src   *sse.EventSource
	c     *Client
	l     *link
	creds bool
}

func (t SSE) dialSession(ctx context.Context, c *Client, l *link, subs []wire.Command) (sconn, []wire.Command, error) {
	retry := t.Retry
	if retry <= 0 {
		retry = min(c.opts.Heartbeat/4, time.Second)
	}
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	u := sessionURL(c.opts.URL, "sse", subs, "heartbeat", ms(c.opts.Heartbeat), "retry", ms(max(retry, 10*time.Millisecond)), "token", tok, "key", c.pkey, "flush", "1")
	opened := false
	src, err := sse.Open(ctx, u, &sse.Options{WithCredentials: t.WithCredentials, QueueSize: 8192, FlushEvent: wire.SSEFlush, OnState: func(st sse.ReadyState) {
		switch st {
		case sse.StateOpen:
			opened = true
		case sse.StateConnecting:
			if opened { // the browser reconnects: a new session from the old URL
				l.cancel(errSSEReconnect)
			}
		}
	}})
	if err != nil {
		return nil, nil, err
	}
	return &sseSession{src: src, c: c, l: l, creds: t.WithCredentials}, subs, nil
}

func (s *sseSession) next(ctx context.Context) ([]byte, error) {
	ev, err := s.src.Next(ctx)
	if err != nil {
		return nil, err
	}
	return []byte(ev.Data), nil
}

func (s *sseSession) send(ctx context.Context, cmds []wire.Command) error {
	return postCmds(ctx, s.c, s.l, s.creds, cmds)
}

func (s *sseSession) close() { s.src.Close() }

type streamSession struct {
	body    io.ReadCloser
	c       *Client
	l       *link
	creds   bool
	pending []byte
	buf     []byte
	read    int
	limit   int
}

func (t Stream) dialSession(ctx context.Context, c *Client, l *link, subs []wire.Command) (sconn, []wire.Command, error) {
	limit := t.MaxBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	u := sessionURL(c.opts.URL, "stream", subs, "heartbeat", ms(c.opts.Heartbeat), "key", c.pkey)
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	resp, err := xhr.Stream(ctx, &xhr.Request{URL: u, WithCredentials: t.WithCredentials, Header: bearer(nil, tok)})
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, xhrError(err)
	}
	if resp.Status != 200 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		return nil, nil, statusError(u, resp.Status, text)
	}
	return &streamSession{body: resp.Body, c: c, l: l, creds: t.WithCredentials, buf: make([]byte, 32<<10), limit: limit}, subs, nil
}

func (s *streamSession) next(ctx context.Context) ([]byte, error) {
	for {
		if i := bytes.LastIndexByte(s.pending, '\n'); i >= 0 {
			out := s.pending[:i+1]
			s.pending = append([]byte(nil), s.pending[i+1:]...)
			return out, nil
		}
		if s.read > s.limit {
			return nil, errRecycle
		}
		n, err := s.body.Read(s.buf)
		s.read += n
		s.pending = append(s.pending, s.buf[:n]...)
		switch {
		case err == io.EOF:
			if bytes.IndexByte(s.pending, '\n') >= 0 {
				continue
			}
			return nil, errEnded // a torn last line is dropped: the cursors say where to resume
		case err != nil:
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, xhrError(err)
		}
	}
}

func (s *streamSession) send(ctx context.Context, cmds []wire.Command) error {
	return postCmds(ctx, s.c, s.l, s.creds, cmds)
}

func (s *streamSession) close() { s.body.Close() }

// runPolls carries the session over stateless polls (long is long
// polling): each request names every subscription with its cursor, and
// its answer holds the lines after them (at most size per topic: an
// answer the network cut halves it, whole ones grow it back). A change of
// subscriptions ends a waiting long poll at once.
func (c *Client) runPolls(i int, creds, long bool, interval time.Duration, r *retrier, size *batchSize) (progress bool, err error, next *upgrade) {
	l := c.newLink(c.opts.Transports[i].Name())
	l.poll, l.creds = true, creds
	defer l.cancel(nil)
	defer c.endLink(l)
	c.mu.Lock()
	l.hello = true
	c.link = l
	c.signalLocked()
	c.mu.Unlock()
	probe := make(chan *upgrade, 1)
	handed := false
	defer func() {
		if !handed {
			c.dropUpgrade(probe)
		}
	}()
	done := make(chan struct{})
	if i > 0 {
		go func() { defer close(done); c.prober(l, i, probe) }()
	} else {
		close(done)
	}
	defer func() { <-done }()
	defer l.cancel(nil)
	wait := c.opts.Heartbeat
	path := "poll"
	if long {
		path = "longpoll"
	}
	for {
		c.mu.Lock()
		subs := make([]wire.Command, 0, len(c.subs))
		var pres []string // key=, pres=T,CURSOR
		now := time.Now()
		for _, s := range c.subs {
			if s.paused.Load() {
				continue // its queue is full: asked for again once the application reads
			}
			if s.askedGen != l.gen {
				s.askedGen, s.askedAt = l.gen, now
			}
			subs = append(subs, s.subCmd())
			if s.joins {
				if len(pres) == 0 {
					pres = append(pres, "key", c.pkey)
				}
				if !s.pcur.IsZero() {
					pres = append(pres, "pres", strconv.Itoa(s.t)+","+s.pcur.String())
				}
			}
		}
		l.lastSeen = now
		progress = progress || l.progress
		c.mu.Unlock()
		if err := context.Cause(l.ctx); err != nil {
			if errors.Is(err, errUpgrade) {
				select {
				case up := <-probe:
					handed = true
					return progress, err, up
				default:
				}
			}
			return progress, err, nil
		}
		if len(subs) == 0 { // nothing to ask for: wait for a subscription
			select {
			case <-c.wake:
				continue
			case <-l.ctx.Done():
				continue
			}
		}
		limit := c.opts.ConfirmTimeout
		if long {
			limit += wait
		}
		rctx, cancel := context.WithTimeout(l.ctx, limit)
		if long {
			go func() {
				select {
				case <-c.wake:
					cancel()
				case <-rctx.Done():
				}
			}()
		}
		u := sessionURL(c.opts.URL, path, subs, append([]string{"timeout", ms(wait), "max", size.param()}, pres...)...)
		if !long {
			u = sessionURL(c.opts.URL, path, subs, append([]string{"max", size.param()}, pres...)...)
		}
		tok, err := c.tokens.get(rctx)
		var resp *xhr.Response
		if err == nil {
			c.opened(1)
			resp, err = xhr.Send(rctx, &xhr.Request{URL: u, WithCredentials: creds, ResponseType: xhr.ResponseText, Header: bearer(nil, tok)})
			c.opened(-1)
		}
		late := errors.Is(rctx.Err(), context.DeadlineExceeded) && l.ctx.Err() == nil
		woken := long && !late && rctx.Err() != nil && l.ctx.Err() == nil
		cancel()
		if woken {
			continue // the subscriptions changed: ask again at once
		}
		if late {
			err := &UnconfirmedError{Transport: l.name, What: "poll answer", Waited: limit}
			c.mu.Lock()
			stalled := make([]*Subscription, 0, len(c.subs))
			for _, s := range c.subs {
				stalled = append(stalled, s)
			}
			c.mu.Unlock()
			for _, s := range stalled {
				s.notify(err)
			}
			return progress, err, nil
		}
		if err == nil && resp.Status != 200 {
			err = statusError(u, resp.Status, resp.Bytes())
		}
		size.after(xhrError(err))
		if err == nil {
			err = c.pollAnswer(l, subs, resp.Bytes())
		}
		if err != nil {
			if l.ctx.Err() != nil {
				continue
			}
			if refused, _ := authFailure(err); refused || errors.Is(err, errProtocol) || errors.Is(err, errResume) {
				return progress, err, nil
			}
			if err := r.fail(l.ctx, xhrError(err)); err != nil {
				return progress, err, nil
			}
			continue
		}
		r.n = 0
		if long {
			continue
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-c.wake:
			t.Stop()
		case <-l.ctx.Done():
			t.Stop()
		}
	}
}

// pollAnswer applies one poll answer: the subscriptions in subs are
// confirmed by it, their lines follow.
func (c *Client) pollAnswer(l *link, subs []wire.Command, body []byte) error {
	c.mu.Lock()
	for _, cmd := range subs {
		if s := c.subs[cmd.T]; s != nil && s.askedGen == l.gen && s.fromText() == cmd.From && !s.cur.IsZero() {
			s.confirmedLocked(l)
			l.progress = true
		}
	}
	c.signalLocked()
	c.mu.Unlock()
	err := wire.SplitLines(body, func(line []byte) error { return c.handleLine(l, line) })
	c.pollOwnJoins()
	return err
}
