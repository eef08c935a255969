//go:build !js

package redis

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

//go:embed presence.lua
var presenceLua string

var _ broker.Presence = (*Broker)(nil)

// presence runs one operation of the presence script on topic's keys.
func (b *Broker) presence(ctx context.Context, topic string, retry bool, args ...string) (rueidis.RedisMessage, error) {
	if !wire.ValidTopic(topic) {
		return rueidis.RedisMessage{}, broker.ErrTopic
	}
	if b.isClosed() {
		return rueidis.RedisMessage{}, broker.ErrClosed
	}
	keys := []string{b.cfg.Prefix + "{" + topic + "}:p", b.cfg.Prefix + "{" + topic + "}:pe"}
	var res rueidis.RedisMessage
	err := b.call(ctx, retry, func(cctx context.Context) (err error) {
		res, err = b.pres.Exec(cctx, b.c, keys, args).ToMessage()
		return err
	})
	return res, err
}

// Join implements broker.Presence. Expiry is by Redis's clock, so the
// nodes' clocks need not agree.
func (b *Broker) Join(ctx context.Context, topic string, m wire.Member, ttl time.Duration) (bool, error) {
	if err := broker.CheckMember(topic, m, ttl); err != nil {
		return false, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return false, fmt.Errorf("%w: %w", broker.ErrData, err)
	}
	res, err := b.presence(ctx, topic, true, "join", m.Client, string(data),
		strconv.FormatInt(max(1, ttl.Milliseconds()), 10), strconv.Itoa(broker.MaxMembers))
	if err != nil {
		return false, err
	}
	n, _ := res.AsInt64()
	if n < 0 {
		return false, broker.ErrMembers
	}
	return n == 1, nil
}

// Leave implements broker.Presence.
func (b *Broker) Leave(ctx context.Context, topic, client string) (bool, error) {
	res, err := b.presence(ctx, topic, true, "leave", client)
	if err != nil {
		return false, err
	}
	n, _ := res.AsInt64()
	return n == 1, nil
}

// Members implements broker.Presence.
func (b *Broker) Members(ctx context.Context, topic string) ([]wire.Member, error) {
	res, err := b.presence(ctx, topic, true, "members")
	if err != nil {
		return nil, err
	}
	return members(res)
}

// Expire implements broker.Presence: one script removes and returns the
// expired members, so each is returned to one caller only. It is not
// retried (a retry could not return what the first run removed).
func (b *Broker) Expire(ctx context.Context, topic string) ([]wire.Member, error) {
	res, err := b.presence(ctx, topic, false, "expire")
	if err != nil {
		return nil, err
	}
	return members(res)
}

func members(res rueidis.RedisMessage) ([]wire.Member, error) {
	vals, err := res.ToArray()
	if err != nil {
		return nil, fmt.Errorf("%w: presence: %w", broker.ErrUnavailable, err)
	}
	out := make([]wire.Member, 0, len(vals))
	for _, v := range vals {
		s, err := v.ToString()
		if err != nil {
			continue // removed between ZRANGE and HMGET cannot happen in a script; a nil is skipped
		}
		var m wire.Member
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("%w: presence: malformed member: %w", broker.ErrUnavailable, err)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b wire.Member) int { return strings.Compare(a.Client, b.Client) })
	return out, nil
}
