//go:build js && wasm

package comet

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/xhr"
)

// Presence over the polls: every poll names the client's secret (key=,
// random per Client, sent on its connections too, so an anonymous client
// is one member on every transport; an authenticated user is its token's
// user instead)
// and, per subscription with presence, the cursor of the topic's presence
// events (pres=T,CURSOR). The answer brings "join" and "leave" frames with
// the next cursor, or a "who" frame that restarts them. Unsubscribing and
// Close send leave=TOPIC; Who asks who=TOPIC.

// pollWhoLocked applies a "who" frame of a poll answer: the presence
// cursor of its subscription and the client's own member. Call with mu held.
func (c *Client) pollWhoLocked(l *link, f wire.Frame) {
	s := c.subs[f.T]
	if s == nil || s.askedGen != l.gen || !s.joins {
		return
	}
	s.pcur = f.Presence
	if f.Member == nil {
		return
	}
	c.self = *f.Member
	if !s.ownJoin && slices.ContainsFunc(f.Members, func(m Member) bool { return m.Client == f.Member.Client }) {
		s.pendOwn = true // its join follows in this answer, unless an earlier answer that had it was lost
	}
}

// pollOwnJoins delivers the own join of the subscriptions whose first "who"
// frame listed the client but whose join event was in an answer that
// never arrived (a long poll cut after the server joined), so NextPresence
// gets the client's own join on the polls as on a connection.
func (c *Client) pollOwnJoins() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.subs {
		if s.pendOwn {
			s.pendOwn, s.ownJoin = false, true
			s.pushPresence(PresenceEvent{Join: true, Member: c.self})
		}
	}
}

// pollLeaveLocked tells the server, in the background, that the client's
// poll member left topics. Close waits for it (at most 2s). Call with mu
// held.
func (c *Client) pollLeaveLocked(creds bool, topics []string) {
	q := url.Values{"key": {c.pkey}, "leave": topics}
	c.leavesWG.Add(1)
	go func() {
		defer c.leavesWG.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), 2*time.Second)
		defer cancel()
		c.pollPresence(ctx, creds, q)
	}()
}

// pollWho answers Who on a poll link.
func (c *Client) pollWho(ctx context.Context, creds bool, topic string) ([]Member, error) {
	fs, err := c.pollPresence(ctx, creds, url.Values{"who": {topic}})
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		switch {
		case f.Op == wire.OpPresence && f.Topic == topic:
			return f.Members, nil
		case f.Op == wire.OpError:
			return nil, &CommandError{Op: wire.OpPresence, Topic: topic, Code: f.Code, Message: f.Error}
		}
	}
	return nil, errProtocol
}

// pollPresence sends one presence request to the poll endpoint and
// returns the frames of its answer.
func (c *Client) pollPresence(ctx context.Context, creds bool, q url.Values) ([]wire.Frame, error) {
	u := c.opts.URL + "/realtime/session/poll?" + q.Encode()
	rctx, cancel := context.WithTimeout(ctx, c.opts.ConfirmTimeout)
	defer cancel()
	tok, err := c.tokens.get(rctx)
	if err != nil {
		return nil, err
	}
	resp, err := xhr.Send(rctx, &xhr.Request{URL: u, WithCredentials: creds, ResponseType: xhr.ResponseText, Header: bearer(nil, tok)})
	if err != nil {
		return nil, xhrError(err)
	}
	if resp.Status != 200 {
		return nil, statusError(u, resp.Status, resp.Bytes())
	}
	var fs []wire.Frame
	err = wire.SplitLines(resp.Bytes(), func(line []byte) error {
		pl, err := wire.ParseLine(line)
		if err != nil {
			return errProtocol
		}
		if !pl.IsMessage {
			fs = append(fs, pl.Frame)
		}
		return nil
	})
	return fs, err
}
