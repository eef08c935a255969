//go:build !js

package realtime

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/wire"
)

// frameCache keeps the framed bytes of recent messages per transport
// (WebSocket and stream JSON, SSE events), so a message that goes to many
// single-topic connections is encoded once, and every connection writes
// the same bytes. A message is named by its topic, epoch and offset, which
// fix its content. It is a direct-mapped table: a collision only costs an
// encode. A lookup takes no lock (the connections of a fan-out read it at
// once): each slot is an atomic pointer to an immutable entry.
type frameCache struct {
	seed  maphash.Seed
	slots [4096]atomic.Pointer[frameSlot]
}

type frameKind uint8

const (
	frameJSON     frameKind = iota // the envelope JSON (WebSocket)
	frameJSONLine                  // the envelope JSON and a newline (HTTP streaming)
	frameSSENamed                  // an SSE event with "event:"
	frameSSEPlain                  // an SSE event without it (named=0)
)

type frameKey struct {
	topic, epoch string
	offset       uint64
	kind         frameKind
}

type frameSlot struct {
	key frameKey
	b   []byte
}

func newFrameCache() *frameCache { return &frameCache{seed: maphash.MakeSeed()} }

// frame returns the bytes of m framed as kind, made by enc on a miss.
// Control envelopes are not cached. The bytes must not be modified.
func (c *frameCache) frame(m wire.Message, kind frameKind, enc func(wire.Message) []byte) []byte {
	if m.IsControl() {
		return enc(m)
	}
	k := frameKey{m.Topic, m.Epoch, m.Offset, kind}
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(m.Topic)
	h.WriteString(m.Epoch)
	h.WriteByte(byte(kind))
	i := (h.Sum64() + m.Offset*0x9e3779b97f4a7c15) % uint64(len(c.slots))
	if s := c.slots[i].Load(); s != nil && s.key == k {
		return s.b
	}
	b := enc(m)
	c.slots[i].Store(&frameSlot{k, b})
	return b
}

func envelopeJSON(m wire.Message) []byte { return httpx.MustJSON(m) }

func envelopeLine(m wire.Message) []byte { return append(httpx.MustJSON(m), '\n') }
