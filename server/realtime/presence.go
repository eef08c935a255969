//go:build !js

package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// Presence across nodes: the members live in the broker's Presence with a
// TTL (Config.PresenceTTL) that the session's node refreshes every TTL/3.
// Joins and leaves are published to the internal topic "_p:TOPIC", which
// every member session follows and forwards as "join" and "leave" frames.
// Every node sweeps the topics its sessions are members of every TTL/3:
// Expire hands it the members whose TTL passed (those of a node that died),
// and it announces their leave. A member is last refreshed at most TTL/3
// before its node dies and expires TTL after that refresh; the next sweep
// comes within TTL/3: so the members of a killed node leave within 4/3
// PresenceTTL (20s with the defaults), and "who" drops them at once when
// their TTL passes.

// join makes s a member of topic: it follows the topic's presence events
// from now, joins, announces itself if it is new, and returns the events
// and the members.
func (s *session) join(ctx context.Context, topic string) (broker.Subscription, []wire.Member, error) {
	events, err := s.h.subscribe(ctx, presenceTopicPrefix+topic, wire.Cursor{})
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	n := s.joined[topic]
	if s.joined == nil {
		s.joined = map[string]int{}
	}
	s.joined[topic]++
	if s.refresh == nil && !s.closed { // the session's first join
		s.refresh = time.AfterFunc(s.h.cfg.PresenceTTL/3, s.refreshPresence)
	}
	s.mu.Unlock()
	if n == 0 && s.h.localMember(topic, s.member.Client, 1) == 1 {
		fresh, err := s.h.presence.Join(ctx, topic, s.member, s.h.cfg.PresenceTTL)
		if err != nil {
			s.h.localMember(topic, s.member.Client, -1)
			s.mu.Lock()
			if s.joined[topic]--; s.joined[topic] == 0 {
				delete(s.joined, topic)
			}
			s.mu.Unlock()
			events.Close()
			return nil, nil, err
		}
		s.h.track(topic, 1)
		if fresh {
			s.h.announce(ctx, topic, wire.OpJoin, s.member)
		}
	}
	ms, err := s.h.presence.Members(ctx, topic)
	if err != nil {
		s.leave(topic)
		events.Close()
		return nil, nil, err
	}
	return events, ms, nil
}

// leave undoes one join of topic; the last one leaves the presence.
func (s *session) leave(topic string) {
	s.mu.Lock()
	s.joined[topic]--
	last := s.joined[topic] <= 0
	if last {
		delete(s.joined, topic)
	}
	s.mu.Unlock()
	if !last || s.h.localMember(topic, s.member.Client, -1) > 0 {
		return // another session of this node is the same member (the same user)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.h.ctx), 5*time.Second)
	defer cancel()
	was, err := s.h.presence.Leave(ctx, topic, s.member.Client)
	s.h.track(topic, -1)
	if err == nil && was {
		s.h.announce(ctx, topic, wire.OpLeave, s.member)
	}
}

// refreshPresence re-joins the session's topics every PresenceTTL/3,
// from a timer (s.refresh) that its first join starts, until the session
// closes (which waits for a refresh in flight: s.refreshing).
func (s *session) refreshPresence() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.refreshing.Add(1)
	topics := make([]string, 0, len(s.joined))
	for topic := range s.joined {
		topics = append(topics, topic)
	}
	s.mu.Unlock()
	defer s.refreshing.Done()
	for _, topic := range topics {
		fresh, err := s.h.presence.Join(s.ctx, topic, s.member, s.h.cfg.PresenceTTL)
		if err == nil && fresh { // it had expired (a stalled node): announce it again
			s.h.announce(s.ctx, topic, wire.OpJoin, s.member)
		}
	}
	s.mu.Lock()
	if !s.closed {
		s.refresh.Reset(s.h.cfg.PresenceTTL / 3)
	}
	s.mu.Unlock()
}

// forwardPresence sends the join and leave events of ss's topic as
// frames. When it falls behind the events' history it sends the members
// as a "who" frame and follows on from the head.
func (s *session) forwardPresence(ctx context.Context, ss *ssub, events broker.Subscription) {
	topic := presenceTopicPrefix + ss.topic
	defer func() { events.Close() }() // the one it follows last
	for {
		ms, err := events.Next(ctx)
		if errors.Is(err, broker.ErrGap) && ctx.Err() == nil {
			events.Close()
			if events, err = s.h.subscribe(ctx, topic, wire.Cursor{}); err != nil {
				events = closedSub{}
				return
			}
			members, err := s.h.presence.Members(ctx, ss.topic)
			if err != nil {
				return
			}
			s.enqueue(ctx, wire.AppendFrame(nil, wire.Frame{Op: wire.OpPresence, T: ss.t, Topic: ss.topic, Members: members}))
			continue
		}
		if err != nil {
			return
		}
		var b []byte
		for _, m := range ms {
			var mem wire.Member
			if (m.Type != wire.OpJoin && m.Type != wire.OpLeave) || json.Unmarshal(m.Data, &mem) != nil {
				continue
			}
			b = wire.AppendFrame(b, wire.Frame{Op: m.Type, T: ss.t, Topic: ss.topic, Member: &mem})
		}
		if len(b) > 0 && !s.enqueue(ctx, b) {
			return
		}
	}
}

// announce publishes a join or leave of m on topic's presence events.
func (h *Handler) announce(ctx context.Context, topic, op string, m wire.Member) {
	data, _ := json.Marshal(m)
	if _, err := h.broker.Publish(ctx, presenceTopicPrefix+topic, []wire.Draft{{Type: op, Data: data}}, broker.PublishOptions{}); err != nil {
		h.cfg.Logf("realtime: presence: announcing %s on %q: %v", op, topic, err)
	}
}

// localMember counts the sessions of this node that are member client of
// topic (several when one user has several sessions) and returns the count
// after adding delta: the first joins the broker's presence, the last
// leaves it. (A user with sessions on two nodes: when one node's last
// session leaves, the member leaves, and the other node's next refresh,
// within PresenceTTL/3, joins it again.)
func (h *Handler) localMember(topic, client string, delta int) int {
	h.presMu.Lock()
	defer h.presMu.Unlock()
	k := topic + "\n" + client
	h.presLocal[k] += delta
	n := h.presLocal[k]
	if n <= 0 {
		delete(h.presLocal, k)
	}
	return n
}

// track counts the local members of topic, for the sweep.
func (h *Handler) track(topic string, delta int) {
	h.presMu.Lock()
	defer h.presMu.Unlock()
	if h.presTopics[topic] += delta; h.presTopics[topic] <= 0 {
		delete(h.presTopics, topic)
	}
}

// sweepPresence announces the leave of expired members of the topics this
// node has members on, and of those its polls joined (polledTopics),
// every PresenceTTL/3, until Close.
func (h *Handler) sweepPresence() {
	t := time.NewTicker(h.cfg.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		topics := h.polledTopics(time.Now())
		polled := make(map[string]bool, len(topics))
		for _, topic := range topics {
			polled[topic] = true
		}
		h.presMu.Lock()
		for topic := range h.presTopics {
			if !polled[topic] {
				topics = append(topics, topic)
			}
		}
		h.presMu.Unlock()
		for _, topic := range topics {
			gone, err := h.presence.Expire(h.ctx, topic)
			if err != nil {
				continue
			}
			for _, m := range gone {
				h.announce(h.ctx, topic, wire.OpLeave, m)
			}
		}
	}
}

// closedSub stands for no subscription.
type closedSub struct{ broker.Subscription }

func (closedSub) Close() {}
