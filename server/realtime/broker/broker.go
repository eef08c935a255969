//go:build !js

package broker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

// Errors every Broker returns (wrapped with %w where it adds detail).
var (
	ErrGap         = errors.New("broker: history gap")         // matched by every *GapError
	ErrClosed      = errors.New("broker: closed")              // the Broker or Subscription was closed
	ErrTopic       = errors.New("broker: bad topic name")      // wire.ValidTopic
	ErrType        = errors.New("broker: bad message type")    // wire.ValidType
	ErrData        = errors.New("broker: data is not JSON")    // data must be one JSON value
	ErrTooLarge    = errors.New("broker: data over the limit") // Limits.MaxData, MaxBatchBytes
	ErrTopics      = errors.New("broker: too many topics")     // Limits.MaxTopics
	ErrUnavailable = errors.New("broker: unavailable")         // the backing store cannot be reached
	ErrKey         = errors.New("broker: bad idempotency key") // 1-128 printable ASCII bytes
)

// IdempotencyWindow is how long every Broker remembers an idempotency key:
// a repeat within it returns the first Receipt and appends nothing.
const IdempotencyWindow = 10 * time.Minute

// MaxKeyLen bounds an idempotency key.
const MaxKeyLen = 128

// Broker is the message log behind the realtime transports. Its methods are
// safe for concurrent use.
type Broker interface {
	// Publish appends drafts to topic atomically (all or none) and fans
	// them out to live subscriptions. With opts.IdempotencyKey set, a
	// repeat within IdempotencyWindow returns the first Receipt with
	// Repeat true and appends nothing.
	Publish(ctx context.Context, topic string, drafts []wire.Draft, opts PublishOptions) (Receipt, error)
	// Read returns up to max messages after from without waiting, and the
	// cursor to read from next. The zero from reads nothing and answers
	// the head. When the history after from is gone the batch carries the
	// gap and the error is a *GapError.
	Read(ctx context.Context, topic string, from wire.Cursor, max int) (wire.Batch, error)
	// Subscribe follows topic after from (the zero Cursor: the head). It
	// returns a *GapError when the history after from is gone. The
	// subscription ends when ctx ends or it is closed.
	Subscribe(ctx context.Context, topic string, from wire.Cursor) (Subscription, error)
	// Head returns the cursor after the newest message of topic.
	Head(ctx context.Context, topic string) (wire.Cursor, error)
	// Health returns nil when the broker can serve, or why it cannot
	// (matching ErrUnavailable).
	Health(ctx context.Context) error
	// Close ends every subscription with ErrClosed. It is idempotent.
	Close() error
}

// Subscription follows one topic. It is used by one goroutine.
type Subscription interface {
	// Start returns the cursor the subscription started after.
	Start() wire.Cursor
	// Next waits for the messages after the last ones it returned and
	// returns them in order (at least one). A reader that falls behind the
	// history gets a *GapError. When ctx ends it returns ctx.Err(); after
	// Close, the end of the subscription's context or the broker's Close,
	// ErrClosed; when the backing store fails, an error matching
	// ErrUnavailable (the reader resubscribes from its cursor later).
	// The slice may be shared with other subscriptions (a fan-out reads
	// the history once): the caller must not modify it.
	Next(ctx context.Context) ([]wire.Message, error)
	// Close ends the subscription. It is idempotent.
	Close()
}

// PublishOptions tune one Publish.
type PublishOptions struct {
	// IdempotencyKey, when set, makes a retried publish safe (see
	// Broker.Publish). 1-128 bytes of printable ASCII.
	IdempotencyKey string
}

// Receipt says where a publish landed: the cursor after its last message
// and how many it appended (the messages have the Count offsets up to
// Cursor.Offset). Repeat is true when the idempotency key was seen before:
// nothing was appended and the Receipt is the first one.
type Receipt struct {
	Cursor wire.Cursor
	Count  int
	Repeat bool
}

// Limits bound what a Broker holds. The zero value gives the defaults.
type Limits struct {
	// History is how many messages each topic keeps for readers that
	// resume. Defaults to 1024.
	History int
	// MaxData limits the JSON data of one message in bytes. Defaults to
	// 64 KiB.
	MaxData int
	// MaxTopics limits the number of topics. Defaults to 10000.
	MaxTopics int
	// MaxBatch limits the messages one Read or Next returns. Defaults to
	// 256.
	MaxBatch int
	// HistoryBytes bounds the bytes of history one topic keeps (data,
	// type and a fixed overhead per message); past it the oldest messages
	// are evicted, and readers behind them get an "evicted" gap. A batch
	// larger than the bound gets ErrTooLarge. Defaults to 16 MiB.
	HistoryBytes int64
	// TotalHistoryBytes bounds the history of all topics together; past
	// it the oldest messages of any topic are evicted. Defaults to
	// 256 MiB.
	TotalHistoryBytes int64
	// TopicIdle is how long a topic without subscribers may go untouched
	// (no publish, read or subscribe) before it is dropped with its
	// history; a reader that comes back with a cursor of it gets an
	// "epoch" gap. Defaults to 15 minutes.
	TopicIdle time.Duration
}

// MessageOverhead is what Limits.HistoryBytes counts for one message
// besides its data and type: the envelope's fields and bookkeeping.
const MessageOverhead = 128

// HistorySize is the size of one message as Limits.HistoryBytes counts
// it.
func HistorySize(d wire.Draft) int64 { return int64(len(d.Data)+len(d.Type)) + MessageOverhead }

// Fill sets the defaults of the zero fields.
func (l *Limits) Fill() {
	if l.History <= 0 {
		l.History = 1024
	}
	if l.MaxData <= 0 {
		l.MaxData = 64 << 10
	}
	if l.MaxTopics <= 0 {
		l.MaxTopics = 10000
	}
	if l.MaxBatch <= 0 {
		l.MaxBatch = 256
	}
	if l.HistoryBytes <= 0 {
		l.HistoryBytes = 16 << 20
	}
	if l.TotalHistoryBytes <= 0 {
		l.TotalHistoryBytes = 256 << 20
	}
	if l.TopicIdle <= 0 {
		l.TopicIdle = 15 * time.Minute
	}
}

// GapError says the messages after Want are gone (see wire.Gap).
type GapError struct {
	Topic string
	wire.Gap
}

func (e *GapError) Error() string {
	return "broker: history gap in topic " + strconv.Quote(e.Topic) + " (" + e.Reason + "): want after " +
		strconv.Quote(e.Want.String()) + ", can resume after " + strconv.Quote(e.Resume.String())
}

// Is makes errors.Is(err, ErrGap) true.
func (e *GapError) Is(target error) bool { return target == ErrGap }

// Envelope returns the "_gap" envelope for e.
func (e *GapError) Envelope() wire.Message { return wire.GapEnvelope(e.Topic, e.Gap) }

// ValidKey reports whether k is a valid idempotency key.
func ValidKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// CheckDrafts validates drafts against l and returns them normalised: type
// "" becomes "message", nil data becomes null. Implementations call it
// before appending anything.
func CheckDrafts(topic string, drafts []wire.Draft, l Limits) ([]wire.Draft, error) {
	if !wire.ValidTopic(topic) {
		return nil, ErrTopic
	}
	out := make([]wire.Draft, len(drafts))
	for i, d := range drafts {
		if d.Type == "" {
			d.Type = wire.TypeMessage
		}
		if !wire.ValidType(d.Type) {
			return nil, ErrType
		}
		if len(d.Data) == 0 {
			d.Data = []byte("null")
		}
		if len(d.Data) > l.MaxData {
			return nil, ErrTooLarge
		}
		if !validJSON(d.Data) {
			return nil, ErrData
		}
		out[i] = d
	}
	return out, nil
}

// Resetter is implemented by brokers that can drop a topic's history on
// purpose (tests, and the -test-hooks reset endpoint): the topic starts a
// new epoch, as after a lost history, and readers of the old one get a gap.
type Resetter interface {
	Reset(ctx context.Context, topic string) error
}
