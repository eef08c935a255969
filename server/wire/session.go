package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// The session protocol carries many topics in both directions over one
// connection (see the package doc, "Sessions").

// Client commands (Command.Op).
const (
	OpSubscribe   = "sub"   // follow Topic as topic number T, after From
	OpUnsubscribe = "unsub" // stop following T
	OpPublish     = "pub"   // publish Type/Data to Topic, idempotent by Key
	OpPresence    = "who"   // ask who is here on T
)

// Server frames (Frame.Op); "sub", "unsub", "pub" and "who" answer the
// command of the same name.
const (
	OpHello = "hello" // first frame of a connection: Session, Heartbeat, Member (the client's own), Key
	OpError = "err"   // a command failed: ID, T, Code, Error; a failed sub frees T
	OpGap   = "gap"   // the history of T after the client's cursor is gone: Gap; T is freed
	OpPing  = "ping"  // heartbeat
	OpJoin  = "join"  // Member joined T (subscriptions with Presence)
	OpLeave = "leave" // Member left T
)

// Error codes (Frame.Code).
const (
	CodeBad         = "bad"         // malformed command
	CodeForbidden   = "forbidden"   // not allowed for this client
	CodeUnavailable = "unavailable" // the broker cannot serve now: retry
	CodeTooMany     = "too_many"    // over a limit (topics per session, rate)
	CodeTooLarge    = "too_large"   // data over the limit
)

// FromOldest, as Command.From, starts a subscription at the oldest message
// the server retains.
const FromOldest = "oldest"

// MaxSessionTopics bounds the topic numbers of one session: T is 1 to
// MaxSessionTopics.
const MaxSessionTopics = 1024

// Command is one client command. The client chooses the topic number T of
// each subscription (1 to MaxSessionTopics, unique among its live ones); the
// server refers to the topic by T from then on. ID, when set, is echoed in
// the answer.
type Command struct {
	Op    string          `json:"op"`
	ID    uint64          `json:"id,omitempty"`
	T     int             `json:"t,omitempty"`
	Topic string          `json:"topic,omitempty"`
	From  string          `json:"from,omitempty"` // "" now, FromOldest, or a Cursor text
	Type  string          `json:"type,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Key   string          `json:"key,omitempty"` // idempotency key of a publish
	// Presence, on a subscribe, makes the session a member of the topic:
	// its join and leave reach every member, and it receives theirs.
	Presence bool `json:"presence,omitempty"`
}

// Frame is one server frame other than a message.
type Frame struct {
	Op        string   `json:"op"`
	ID        uint64   `json:"id,omitempty"`
	T         int      `json:"t,omitempty"`
	Topic     string   `json:"topic,omitempty"`
	Cursor    Cursor   `json:"cursor,omitzero"` // sub: starts after; pub: after the message
	Repeat    bool     `json:"repeat,omitempty"`
	Session   string   `json:"session,omitempty"`
	Heartbeat int64    `json:"heartbeat,omitempty"` // hello: milliseconds between pings
	Code      string   `json:"code,omitempty"`
	Error     string   `json:"error,omitempty"`
	Gap       *Gap     `json:"gap,omitempty"`
	Members   []Member `json:"members,omitempty"`
	Member    *Member  `json:"member,omitempty"`
	// Presence, in a poll answer, is the cursor of T's presence events
	// after this frame ("join", "leave", or a "who" that restarts them):
	// the next poll carries it as pres=T,CURSOR.
	Presence Cursor `json:"presence,omitzero"`
	// Key, in the hello of an anonymous client, is the secret its member
	// derives from: key=KEY on later connections and polls keeps the
	// same member across transports. Never shown to others.
	Key string `json:"key,omitempty"`
}

// Member is one client present on a topic. User is who it is: the user id
// of its token, or, for an anonymous client, the same as Client. Client
// identifies the member: for an authenticated user "u." + User, so every
// connection of one user is one member; for an anonymous client a public
// id derived from its secret key (Frame.Key; the same on every connection
// and poll that sends key=), never the session id, which is a capability.
type Member struct {
	Client string          `json:"client"`
	User   string          `json:"user"`
	Info   json.RawMessage `json:"info,omitempty"`
}

// ErrLine is returned by ParseLine for a line that is neither a message
// nor a frame.
var ErrLine = errors.New("wire: malformed session line")

// AppendMessage appends the line of one message of topic number t: "t data"
// for type "message", "t:type data" otherwise, and a newline. In the type,
// "%" and " " are written "%25" and "%20" (ParseLine reverts it). data must
// be one line of JSON (brokers store it compacted). The message's offset is
// implied: the previous offset of t plus one.
func AppendMessage(b []byte, t int, typ string, data []byte) []byte {
	b = strconv.AppendInt(b, int64(t), 10)
	if typ != "" && typ != TypeMessage {
		b = append(b, ':')
		for i := 0; i < len(typ); i++ {
			switch c := typ[i]; c {
			case '%':
				b = append(b, "%25"...)
			case ' ':
				b = append(b, "%20"...)
			default:
				b = append(b, c)
			}
		}
	}
	b = append(b, ' ')
	b = append(b, data...)
	return append(b, '\n')
}

// AppendFrame appends f as one JSON line and a newline.
func AppendFrame(b []byte, f Frame) []byte {
	j, _ := json.Marshal(f)
	b = append(b, j...)
	return append(b, '\n')
}

// Line is one parsed line of the session protocol: a message (IsMessage)
// with T, Type and Data, or a Frame.
type Line struct {
	IsMessage bool
	T         int
	Type      string
	Data      json.RawMessage
	Frame     Frame
}

// ParseLine parses one line (without its newline). Data aliases line.
func ParseLine(line []byte) (Line, error) {
	if len(line) == 0 {
		return Line{}, ErrLine
	}
	if line[0] == '{' {
		var l Line
		if err := json.Unmarshal(line, &l.Frame); err != nil || l.Frame.Op == "" {
			return Line{}, ErrLine
		}
		return l, nil
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return Line{}, ErrLine
	}
	head := line[:sp]
	l := Line{IsMessage: true, Type: TypeMessage, Data: line[sp+1:]}
	if c := bytes.IndexByte(head, ':'); c >= 0 {
		typ, ok := unescapeType(head[c+1:])
		head = head[:c]
		if !ok || !ValidType(typ) {
			return Line{}, ErrLine
		}
		l.Type = typ
	}
	n, err := strconv.Atoi(string(head))
	if err != nil || n < 1 || n > MaxSessionTopics || len(l.Data) == 0 {
		return Line{}, ErrLine
	}
	l.T = n
	return l, nil
}

// SplitLines calls fn for every non-empty line of b (lines end with "\n";
// a last line without one counts too). It stops at the first error fn
// returns.
func SplitLines(b []byte, fn func(line []byte) error) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return nil
}

// unescapeType reverts the escapes of AppendMessage.
func unescapeType(b []byte) (string, bool) {
	if bytes.IndexByte(b, '%') < 0 {
		return string(b), true
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			out = append(out, b[i])
			continue
		}
		switch {
		case bytes.HasPrefix(b[i:], []byte("%25")):
			out = append(out, '%')
		case bytes.HasPrefix(b[i:], []byte("%20")):
			out = append(out, ' ')
		default:
			return "", false
		}
		i += 2
	}
	return string(out), true
}
