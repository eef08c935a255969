package wire

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reserved envelope types (see the package doc).
const (
	TypeOpen    = "_open"
	TypeGap     = "_gap"
	TypePing    = "_ping"
	TypeMessage = "message" // the default type
)

// SSEFlush is the type of the event an SSE stream asked with flush=1
// sends after a burst: a single-topic stream after a write of several
// messages (a replay, a batch publish), a session after a burst written
// as several frames. "event:_flush" with empty data and no id. It is not
// an envelope; a client that queues events (wasm/sse's
// Options.FlushEvent) hands what it queued to the program when it arrives
// instead of at its next task.
const SSEFlush = "_flush"

// Limits of names.
const (
	MaxTopicLen = 128
	MaxTypeLen  = 64
)

// ErrCursor is returned by ParseCursor for a malformed cursor.
var ErrCursor = errors.New("wire: malformed cursor")

// Cursor is a position in a topic: after Offset of Epoch. The zero Cursor
// means "from now on".
type Cursor struct {
	Epoch  string
	Offset uint64
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c.Epoch == "" && c.Offset == 0 }

// String returns the text form "EPOCH-OFFSET", or "" for the zero Cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return c.Epoch + "-" + strconv.FormatUint(c.Offset, 10)
}

// ParseCursor parses the text form of a Cursor. "" gives the zero Cursor.
// The epoch is 1-64 of A-Z a-z 0-9.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || i > 64 {
		return Cursor{}, ErrCursor
	}
	n, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return Cursor{}, ErrCursor
	}
	for _, r := range s[:i] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return Cursor{}, ErrCursor
		}
	}
	return Cursor{Epoch: s[:i], Offset: n}, nil
}

// MarshalText implements encoding.TextMarshaler with the text form.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Cursor) UnmarshalText(b []byte) error {
	v, err := ParseCursor(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Message is the envelope every transport sends (see the package doc).
type Message struct {
	Topic  string          `json:"topic"`
	Offset uint64          `json:"offset"`
	Epoch  string          `json:"epoch"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data"`
}

// Cursor returns the position right after m.
func (m Message) Cursor() Cursor { return Cursor{Epoch: m.Epoch, Offset: m.Offset} }

// IsControl reports whether m is a control envelope (type "_...").
func (m Message) IsControl() bool { return strings.HasPrefix(m.Type, "_") }

// Control returns a control envelope ("_open" or "_ping") at cursor c.
func Control(topic, typ string, c Cursor) Message {
	return Message{Topic: topic, Epoch: c.Epoch, Offset: c.Offset, Type: typ, Data: json.RawMessage("null")}
}

// Gap is the data of a "_gap" envelope: the messages after Want are gone.
// Resume is the oldest position still readable; a reader that accepts the
// loss continues there.
type Gap struct {
	Reason string `json:"reason"` // GapEvicted, GapEpoch or GapAhead
	Want   Cursor `json:"want"`
	Resume Cursor `json:"resume"`
	Oldest uint64 `json:"oldest"` // offset of the oldest message kept, 0 if none
}

// Gap reasons.
const (
	GapEvicted = "evicted" // past the bounded history
	GapEpoch   = "epoch"   // the history was lost: a new epoch started
	GapAhead   = "ahead"   // the cursor is past the newest message
)

// GapEnvelope returns the "_gap" envelope of g in topic.
func GapEnvelope(topic string, g Gap) Message {
	data, _ := json.Marshal(g)
	return Message{Topic: topic, Epoch: g.Resume.Epoch, Offset: g.Resume.Offset, Type: TypeGap, Data: data}
}

// ParseGap decodes the data of a "_gap" envelope. A malformed one gives the
// reason "unknown" and the envelope's cursor as Resume.
func ParseGap(m Message) Gap {
	var g Gap
	if json.Unmarshal(m.Data, &g) != nil || g.Reason == "" {
		g.Reason = "unknown"
	}
	if g.Resume.IsZero() {
		g.Resume = m.Cursor()
	}
	return g
}

// Batch is the answer of polling and long polling.
type Batch struct {
	Topic    string    `json:"topic"`
	Messages []Message `json:"messages"`
	Cursor   Cursor    `json:"cursor"`
	Gap      *Gap      `json:"gap,omitempty"`
}

// Draft is one message to publish.
type Draft struct {
	Type string          `json:"type"` // "" means "message"
	Data json.RawMessage `json:"data"` // nil means null
}

// PublishRequest is the body of a publish: one message (Type, Data) or a
// batch (Messages).
type PublishRequest struct {
	Topic    string          `json:"topic"`
	Type     string          `json:"type,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Messages []Draft         `json:"messages,omitempty"`
}

// PublishReply answers a publish: the cursor after the last message
// appended and how many there were. Repeat says the publish's idempotency
// key was seen before: nothing was appended, and the reply is the first one.
type PublishReply struct {
	Cursor Cursor `json:"cursor"`
	Count  int    `json:"count"`
	Repeat bool   `json:"repeat,omitempty"`
}

// ValidTopic reports whether name is a valid topic name: 1-128 of
// A-Z a-z 0-9 . _ - : /
func ValidTopic(name string) bool {
	if len(name) == 0 || len(name) > MaxTopicLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("._-:/", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidType reports whether typ may be published: 1-64 bytes of UTF-8, no
// CR, LF or NUL, no reserved "_" prefix.
func ValidType(typ string) bool {
	return len(typ) > 0 && len(typ) <= MaxTypeLen && typ[0] != '_' && !strings.ContainsAny(typ, "\r\n\x00") && utf8.ValidString(typ)
}
