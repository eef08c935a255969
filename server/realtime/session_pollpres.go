//go:build !js

package realtime

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Presence over the stateless polls. A poll's subscription with presence
// (sub=T,TOPIC,FROM,p) joins the topic (Join with PresenceTTL) on every
// poll, and every PresenceTTL/3 while a long poll waits; the member is
// "u."+user for a token's user, else derived from the client's secret
// key=K (22 base64url characters) as base64url(SHA-256(K))[:22], so the
// public id never reveals K and no K gives "u."+anything. Connections
// derive their anonymous member the same way (the hello gives K; key=K on
// session/ws, sse and stream keeps it), so one client is one member on
// every transport. The poll also
// reads the topic's presence events ("_p:TOPIC") after pres=T,CURSOR and
// answers them as "join" and "leave" frames whose Presence field is the
// cursor to carry next; without a cursor (the first poll, or history gone)
// it answers a "who" frame with the members and the cursor they stand at.
// leave=TOPIC removes the member (the client unsubscribed or closed),
// who=TOPIC answers the members. When the polls stop, the member expires
// after PresenceTTL; the node that served its last poll keeps sweeping the
// topic until then, so its leave is announced within 4/3 PresenceTTL of the
// last poll, as for a killed node's members.

// maxPollWho bounds the who= topics of one poll (each answers up to
// broker.MaxMembers members).
const maxPollWho = 16

// pollPresence is the Handler's record of the topics its polls joined.
type pollPresence struct {
	mu    sync.Mutex
	until map[string]time.Time // topic → sweep it until then
}

// pollMember is the presence member of a poll of ident with key.
func pollMember(ident Identity, key string) (wire.Member, error) {
	if ident.User != "" {
		return wire.Member{Client: "u." + ident.User, User: ident.User}, nil
	}
	if !validSessionID(key) {
		return wire.Member{}, errors.New("presence over polls needs key=K, 22 base64url characters the client keeps secret")
	}
	return anonMember(key), nil
}

// anonMember is the member of an anonymous client whose secret is key.
func anonMember(key string) wire.Member {
	sum := sha256.Sum256([]byte("comet presence key\n" + key))
	id := base64.RawURLEncoding.EncodeToString(sum[:16])
	return wire.Member{Client: id, User: id}
}

// parsePres reads the pres=T,CURSOR parameters.
func parsePres(vs []string) (map[int]wire.Cursor, error) {
	out := map[int]wire.Cursor{}
	for _, v := range vs {
		ts, cs, ok := strings.Cut(v, ",")
		t, err := strconv.Atoi(ts)
		if !ok || err != nil {
			return nil, errors.New("pres: want T,EPOCH-OFFSET; got " + strconv.Quote(v))
		}
		c, err := wire.ParseCursor(cs)
		if err != nil || c.IsZero() {
			return nil, errors.New("pres: want T,EPOCH-OFFSET; got " + strconv.Quote(v))
		}
		out[t] = c
	}
	return out, nil
}

// pollJoin joins (or refreshes) m on topic, announces a new member, and
// keeps the topic swept until the member's TTL passed. With refresh (a
// request that joined already: a long poll's wait and its answer) a member
// that is gone stays gone: it left (leave=, the client moved on) while the
// request, which the client gave up, was still running.
func (h *Handler) pollJoin(ctx context.Context, topic string, m wire.Member, refresh bool) error {
	fresh, err := h.presence.Join(ctx, topic, m, h.cfg.PresenceTTL)
	if err != nil {
		return err
	}
	if fresh && refresh {
		_, err := h.presence.Leave(ctx, topic, m.Client)
		return err
	}
	p := &h.polled
	p.mu.Lock()
	p.until[topic] = time.Now().Add(h.cfg.PresenceTTL * 2)
	p.mu.Unlock()
	if fresh {
		h.announce(ctx, topic, wire.OpJoin, m)
	}
	return nil
}

// pollPresenceLines appends the presence frames of subscription c (after
// its pres cursor, if any) and returns the cursor its events go on from.
func (h *Handler) pollPresenceLines(ctx context.Context, b []byte, c wire.Command, m wire.Member, pcur wire.Cursor, refresh bool) ([]byte, wire.Cursor, error) {
	ptopic := presenceTopicPrefix + c.Topic
	if pcur.IsZero() {
		head, err := h.broker.Head(ctx, ptopic)
		if err != nil {
			return b, pcur, err
		}
		if err := h.pollJoin(ctx, c.Topic, m, refresh); err != nil {
			return b, pcur, err
		}
		return h.pollWho(ctx, b, c, m, head)
	}
	if err := h.pollJoin(ctx, c.Topic, m, refresh); err != nil {
		return b, pcur, err
	}
	batch, err := h.broker.Read(ctx, ptopic, pcur, 256)
	if errors.As(err, new(*broker.GapError)) { // events gone: the members, from the head
		head, err := h.broker.Head(ctx, ptopic)
		if err != nil {
			return b, pcur, err
		}
		return h.pollWho(ctx, b, c, m, head)
	}
	if err != nil {
		return b, pcur, err
	}
	b, pcur = appendPresenceEvents(b, c, batch.Messages, pcur)
	return b, pcur, nil
}

// pollWho appends a "who" frame: the members, the client's own member, and
// the presence cursor they stand at (events after it follow).
func (h *Handler) pollWho(ctx context.Context, b []byte, c wire.Command, m wire.Member, at wire.Cursor) ([]byte, wire.Cursor, error) {
	ms, err := h.presence.Members(ctx, c.Topic)
	if err != nil {
		return b, wire.Cursor{}, err
	}
	if ms == nil {
		ms = []wire.Member{}
	}
	b = wire.AppendFrame(b, wire.Frame{Op: wire.OpPresence, T: c.T, Topic: c.Topic, Members: ms, Member: &m, Presence: at})
	// The events after at (this poll's own join among them).
	batch, err := h.broker.Read(ctx, presenceTopicPrefix+c.Topic, at, 256)
	if err != nil {
		return b, at, nil // the next poll reads them
	}
	b, at = appendPresenceEvents(b, c, batch.Messages, at)
	return b, at, nil
}

// appendPresenceEvents appends the join and leave frames of the presence
// events ms of c.Topic, and returns the cursor after the last of them
// (at when there are none).
func appendPresenceEvents(b []byte, c wire.Command, ms []wire.Message, at wire.Cursor) ([]byte, wire.Cursor) {
	for _, e := range ms {
		at = e.Cursor()
		var mem wire.Member
		if (e.Type != wire.OpJoin && e.Type != wire.OpLeave) || json.Unmarshal(e.Data, &mem) != nil {
			continue
		}
		b = wire.AppendFrame(b, wire.Frame{Op: e.Type, T: c.T, Topic: c.Topic, Member: &mem, Presence: at})
	}
	return b, at
}

// pollLeaveWho answers the leave=TOPIC and who=TOPIC parameters of a poll.
func (h *Handler) pollLeaveWho(ctx context.Context, b []byte, ident Identity, key string, leave, who []string) []byte {
	for _, topic := range leave {
		c := wire.Command{Op: wire.OpUnsubscribe, Topic: topic}
		if code, msg := h.pollPresenceCheck(ctx, ident, topic); code != "" {
			b = wire.AppendFrame(b, fail(c, code, msg))
			continue
		}
		m, err := pollMember(ident, key)
		if err != nil {
			b = wire.AppendFrame(b, fail(c, wire.CodeBad, err.Error()))
			continue
		}
		if h.localMember(topic, m.Client, 0) == 0 { // no session of this node is the same member
			was, err := h.presence.Leave(ctx, topic, m.Client)
			if err != nil {
				b = wire.AppendFrame(b, fail(c, errCode(err), err.Error()))
				continue
			}
			if was {
				h.announce(ctx, topic, wire.OpLeave, m)
			}
		}
		b = wire.AppendFrame(b, wire.Frame{Op: wire.OpUnsubscribe, Topic: topic})
	}
	for _, topic := range who {
		c := wire.Command{Op: wire.OpPresence, Topic: topic}
		if code, msg := h.pollPresenceCheck(ctx, ident, topic); code != "" {
			b = wire.AppendFrame(b, fail(c, code, msg))
			continue
		}
		ms, err := h.presence.Members(ctx, topic)
		if err != nil {
			b = wire.AppendFrame(b, fail(c, errCode(err), err.Error()))
			continue
		}
		if ms == nil {
			ms = []wire.Member{}
		}
		b = wire.AppendFrame(b, wire.Frame{Op: wire.OpPresence, Topic: topic, Members: ms})
	}
	return b
}

// pollPresenceCheck validates a presence request of ident on topic.
func (h *Handler) pollPresenceCheck(ctx context.Context, ident Identity, topic string) (code, msg string) {
	if code, msg := checkTopic(topic); code != "" {
		return code, msg
	}
	if err := h.allowed(ctx, ident, topic, Subscribe); err != nil {
		return wire.CodeForbidden, err.Error()
	}
	if h.presence == nil {
		return wire.CodeUnavailable, "presence: the broker does not implement it"
	}
	return "", ""
}

// refreshPolled re-joins m on topics every PresenceTTL/3 until ctx ends
// (a long poll's wait).
func (h *Handler) refreshPolled(ctx context.Context, topics []string, m wire.Member) {
	t := time.NewTicker(h.cfg.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, topic := range topics {
			h.pollJoin(ctx, topic, m, true)
		}
	}
}

// polledTopics returns the topics polls joined here that are still to be
// swept, dropping those whose last poll's member has expired and been
// swept (this sweep is their last).
func (h *Handler) polledTopics(now time.Time) []string {
	p := &h.polled
	p.mu.Lock()
	defer p.mu.Unlock()
	topics := make([]string, 0, len(p.until))
	for topic, until := range p.until {
		topics = append(topics, topic)
		if now.After(until) {
			delete(p.until, topic)
		}
	}
	return topics
}
