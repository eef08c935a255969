//go:build !js

package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

var _ broker.Presence = (*Broker)(nil)

type presence struct {
	m       wire.Member
	expires time.Time
}

// Join implements broker.Presence.
func (b *Broker) Join(ctx context.Context, topic string, m wire.Member, ttl time.Duration) (bool, error) {
	if err := broker.CheckMember(topic, m, ttl); err != nil {
		return false, err
	}
	m.Info = append([]byte(nil), m.Info...)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, broker.ErrClosed
	}
	if b.presence == nil {
		b.presence = map[string]map[string]presence{}
	}
	ms := b.presence[topic]
	if ms == nil {
		ms = map[string]presence{}
		b.presence[topic] = ms
	}
	_, had := ms[m.Client]
	if !had && len(ms) >= broker.MaxMembers {
		return false, broker.ErrMembers
	}
	ms[m.Client] = presence{m: m, expires: b.now().Add(ttl)}
	return !had, nil
}

// Leave implements broker.Presence.
func (b *Broker) Leave(ctx context.Context, topic, client string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, broker.ErrClosed
	}
	ms := b.presence[topic]
	_, had := ms[client]
	delete(ms, client)
	if len(ms) == 0 {
		delete(b.presence, topic)
	}
	return had, nil
}

// Members implements broker.Presence.
func (b *Broker) Members(ctx context.Context, topic string) ([]wire.Member, error) {
	if !wire.ValidTopic(topic) {
		return nil, broker.ErrTopic
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, broker.ErrClosed
	}
	now := b.now()
	out := []wire.Member{}
	for _, p := range b.presence[topic] {
		if now.Before(p.expires) {
			out = append(out, p.m)
		}
	}
	slices.SortFunc(out, func(a, b wire.Member) int { return strings.Compare(a.Client, b.Client) })
	return out, nil
}

// Expire implements broker.Presence.
func (b *Broker) Expire(ctx context.Context, topic string) ([]wire.Member, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, broker.ErrClosed
	}
	now := b.now()
	var out []wire.Member
	ms := b.presence[topic]
	for k, p := range ms {
		if !now.Before(p.expires) {
			out = append(out, p.m)
			delete(ms, k)
		}
	}
	if ms != nil && len(ms) == 0 {
		delete(b.presence, topic)
	}
	slices.SortFunc(out, func(a, b wire.Member) int { return strings.Compare(a.Client, b.Client) })
	return out, nil
}
