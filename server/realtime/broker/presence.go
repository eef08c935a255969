//go:build !js

package broker

import (
	"context"
	"errors"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

// Errors of Presence.
var (
	ErrMembers = errors.New("broker: too many members on the topic") // MaxMembers
	ErrMember  = errors.New("broker: bad member")                    // CheckMember
)

// MaxMembers bounds the members of one topic in every Presence.
const MaxMembers = 10000

// Presence records which clients are on a topic, across nodes. A member
// stays until it leaves or its TTL passes without a refresh (another Join):
// the members of a node that died leave once their TTL passes. Members are
// keyed by Member.Client. Methods are safe for concurrent use; a Broker
// that implements Presence serves the realtime sessions' presence.
type Presence interface {
	// Join records m on topic until ttl passes, or refreshes it (the
	// member's User and Info are replaced). It reports whether m is new.
	Join(ctx context.Context, topic string, m wire.Member, ttl time.Duration) (bool, error)
	// Leave removes client from topic and reports whether it was there.
	Leave(ctx context.Context, topic, client string) (bool, error)
	// Members returns the members of topic whose TTL has not passed,
	// ordered by Client.
	Members(ctx context.Context, topic string) ([]wire.Member, error)
	// Expire removes the members of topic whose TTL has passed and
	// returns them: each expired member is returned by one call only, over
	// all nodes, so the caller can announce its leave once.
	Expire(ctx context.Context, topic string) ([]wire.Member, error)
}

// CheckMember validates a Join: the topic name, a Client of 1-128
// printable ASCII bytes (ValidKey), a User of at most 256 bytes, Info of
// at most 1 KiB of JSON, and a positive ttl.
func CheckMember(topic string, m wire.Member, ttl time.Duration) error {
	if !wire.ValidTopic(topic) {
		return ErrTopic
	}
	if !ValidKey(m.Client) || len(m.User) > 256 || ttl <= 0 {
		return ErrMember
	}
	if len(m.Info) > 1024 {
		return ErrTooLarge
	}
	if len(m.Info) > 0 && !validJSON(m.Info) {
		return ErrData
	}
	return nil
}
