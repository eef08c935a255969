//go:build js && wasm

package comet

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/xhr"
)

// pubReq is one publish waiting in the client's queue.
type pubReq struct {
	ctx   context.Context
	topic string
	typ   string
	data  json.RawMessage
	key   string
	done  chan struct{}
	cur   Cursor
	err   error
}

// Publish appends one message of type typ (empty means "message") with the
// JSON value data to topic, and returns its cursor once the server stored
// it. The client gives every publish an idempotency key and sends it again
// after a drop, on whatever transport is up (over WebSocket as the
// session's "pub" command, otherwise as POST /realtime/publish with an
// Idempotency-Key header), so it is stored exactly once. Publishes are sent
// one at a time, in the order of the calls, so they are stored in that
// order. A refusal is a *CommandError (errors.Is(err, ErrForbidden) for a
// topic this client may not publish to). When ctx ends first, Publish
// returns ctx.Err(): the message was stored or not, and is not retried.
func (c *Client) Publish(ctx context.Context, topic, typ string, data []byte) (Cursor, error) {
	if !ValidTopic(topic) {
		return Cursor{}, ErrTopic
	}
	if typ == "" {
		typ = TypeMessage
	}
	if !wire.ValidType(typ) {
		return Cursor{}, ErrType
	}
	if !json.Valid(data) {
		return Cursor{}, ErrData
	}
	p := &pubReq{ctx: ctx, topic: topic, typ: typ, data: append(json.RawMessage(nil), data...), done: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Cursor{}, ErrClientClosed
	}
	c.keyN++
	p.key = c.keys + strconv.FormatUint(c.keyN, 36)
	c.pubs = append(c.pubs, p)
	c.mu.Unlock()
	select {
	case c.pubSig <- struct{}{}:
	default:
	}
	select {
	case <-p.done:
		return p.cur, p.err
	case <-ctx.Done():
		return Cursor{}, ctx.Err()
	case <-c.ctx.Done():
		return Cursor{}, ErrClientClosed
	}
}

// publisher sends the queued publishes one at a time, until Close.
func (c *Client) publisher() {
	defer c.pubsWG.Done()
	for {
		c.mu.Lock()
		var p *pubReq
		if len(c.pubs) > 0 {
			p = c.pubs[0]
			c.pubs = c.pubs[1:]
		}
		c.mu.Unlock()
		if p == nil {
			select {
			case <-c.pubSig:
				continue
			case <-c.ctx.Done():
				return
			}
		}
		p.cur, p.err = c.publishOne(p)
		close(p.done)
	}
}

// publishOne sends p until the server answers, the answer is a refusal,
// or p's context or the client ends.
func (c *Client) publishOne(p *pubReq) (Cursor, error) {
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return Cursor{}, err
		}
		if n > 0 {
			c.mu.Lock()
			c.stats.Retries++
			c.mu.Unlock()
			t := time.NewTimer(min(20*time.Millisecond<<min(n-1, 7), 2*time.Second))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return Cursor{}, ctx.Err()
			}
		}
		c.mu.Lock()
		l := c.link
		var ch chan wire.Frame
		if l != nil && l.isWS && l.hello {
			c.nextID++
			id := c.nextID
			ch = make(chan wire.Frame, 1)
			l.waits[id] = ch
			l.sendLocked(wire.Command{Op: wire.OpPublish, ID: id, Topic: p.topic, Type: p.typ, Data: p.data, Key: p.key})
		}
		c.mu.Unlock()
		var rep wire.PublishReply
		var err error
		if ch != nil {
			rep, err = c.waitAnswer(ctx, l, ch, p.topic)
		} else {
			rep, err = c.postPublish(ctx, p)
		}
		var ce *CommandError
		switch {
		case err == nil:
			c.mu.Lock()
			c.stats.Publishes++
			if rep.Repeat {
				c.stats.Repeats++
			}
			c.mu.Unlock()
			return rep.Cursor, nil
		case errors.Is(err, ErrUnauthenticated):
			return Cursor{}, err
		case errors.As(err, &ce) && ce.Code != wire.CodeUnavailable && ce.Code != wire.CodeTooMany:
			return Cursor{}, err // too_many of a publish is the command rate: wait and retry
		}
	}
}

// waitAnswer waits for the answer to a "pub" command on l.
func (c *Client) waitAnswer(ctx context.Context, l *link, ch chan wire.Frame, topic string) (wire.PublishReply, error) {
	select {
	case f, ok := <-ch:
		switch {
		case !ok:
			return wire.PublishReply{}, errRetry // the link ended
		case f.Op == wire.OpError:
			return wire.PublishReply{}, &CommandError{Op: wire.OpPublish, Topic: topic, Code: f.Code, Message: f.Error}
		}
		return wire.PublishReply{Cursor: f.Cursor, Count: 1, Repeat: f.Repeat}, nil
	case <-l.ctx.Done():
		return wire.PublishReply{}, errRetry
	case <-ctx.Done():
		return wire.PublishReply{}, ctx.Err()
	}
}

var errRetry = errors.New("comet: publish to be sent again")

// postPublish sends p as POST /realtime/publish with its key.
func (c *Client) postPublish(ctx context.Context, p *pubReq) (wire.PublishReply, error) {
	body, _ := json.Marshal(wire.PublishRequest{Topic: p.topic, Type: p.typ, Data: p.data})
	u := c.opts.URL + "/realtime/publish"
	rctx, cancel := context.WithTimeout(ctx, c.opts.ConfirmTimeout)
	defer cancel()
	tok, err := c.tokens.get(rctx)
	if err != nil {
		return wire.PublishReply{}, err
	}
	resp, err := xhr.Send(rctx, &xhr.Request{Method: "POST", URL: u, Body: body, ResponseType: xhr.ResponseText,
		Header: bearer(xhr.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {p.key}}, tok)})
	if err != nil {
		return wire.PublishReply{}, xhrError(err)
	}
	var rep wire.PublishReply
	code := ""
	switch resp.Status {
	case 200:
		if json.Unmarshal(resp.Bytes(), &rep) != nil || rep.Cursor.IsZero() {
			return rep, ErrEnvelope
		}
		return rep, nil
	case 400, 422:
		code = wire.CodeBad
	case 401:
		se := statusError(u, resp.Status, resp.Bytes())
		if c.tokens.refused() {
			return rep, se // again with a fresh token
		}
		return rep, errors.Join(ErrUnauthenticated, se)
	case 403:
		code = wire.CodeForbidden
	case 413:
		code = wire.CodeTooLarge
	case 429:
		code = wire.CodeUnavailable
	default:
		return rep, statusError(u, resp.Status, resp.Bytes()) // 5xx, proxies: retry
	}
	var e struct{ Error string }
	json.Unmarshal(resp.Bytes(), &e)
	return rep, &CommandError{Op: wire.OpPublish, Topic: p.topic, Code: code, Message: e.Error}
}

// Who returns the members present on the subscription's topic, on every
// transport (on the polls it asks with a request of its own). It waits
// until the subscription is confirmed, and asks again after a drop.
func (s *Subscription) Who(ctx context.Context) ([]Member, error) {
	c := s.client
	if c == nil {
		return nil, ErrNoPresence
	}
	for {
		c.mu.Lock()
		if c.subs[s.t] != s {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		l, changed := c.link, c.changed
		var ch chan wire.Frame
		switch {
		case l != nil && l.poll && s.confirmedGen == l.gen:
			c.mu.Unlock()
			return c.pollWho(ctx, l.creds, s.topic)
		case l != nil && l.hello && s.confirmedGen == l.gen:
			c.nextID++
			id := c.nextID
			ch = make(chan wire.Frame, 1)
			l.waits[id] = ch
			l.sendLocked(wire.Command{Op: wire.OpPresence, ID: id, T: s.t})
		}
		c.mu.Unlock()
		if ch == nil {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-s.done:
				return nil, ErrClosed
			}
		}
		select {
		case f, ok := <-ch:
			if !ok {
				continue
			}
			if f.Op == wire.OpError {
				return nil, &CommandError{Op: wire.OpPresence, Topic: s.topic, Code: f.Code, Message: f.Error}
			}
			return f.Members, nil
		case <-l.ctx.Done():
			continue
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// NextPresence returns the next join or leave on the subscription's topic
// (the queue keeps the latest 256 and counts what
// it dropped). It returns ErrClosed after Close.
func (s *Subscription) NextPresence(ctx context.Context) (PresenceEvent, error) {
	if s.client == nil {
		return PresenceEvent{}, ErrNoPresence
	}
	select {
	case e := <-s.presence:
		return e, nil
	case <-s.done:
		return PresenceEvent{}, ErrClosed
	case <-ctx.Done():
		return PresenceEvent{}, ctx.Err()
	}
}
