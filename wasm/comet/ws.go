//go:build js && wasm

package comet

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/cometwasm/comet/wasm/ws"
)

// WS carries a feed over a WebSocket (package wasm/ws) from the server's
// /ws/realtime endpoint: one text message per envelope, "_open" first,
// "_ping" after each heartbeat of quiet, "_gap" then close when the
// history is gone. It is the first transport to try: one connection, no
// per-message request, and close codes that say why it ended.
type WS struct {
	// Path is SubscribeFeed's endpoint on Feed.URL. Defaults to
	// "/ws/realtime". A Client always uses /realtime/session/ws; a WS
	// with a Path makes Subscribe run SubscribeFeed.
	Path string
	// Dial configures the connection (read limit, queue). Defaults to
	// ws's defaults.
	Dial *ws.DialOptions
}

// Name returns "ws".
func (WS) Name() string { return "ws" }

// Run implements Transport.
func (t WS) Run(ctx context.Context, f Feed) error {
	u := t.url(f)
	tok, err := f.token(ctx)
	if err != nil {
		return err
	}
	if tok != "" {
		u += "&token=" + url.QueryEscape(tok)
	}
	c, err := ws.Dial(ctx, u, t.Dial)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	for {
		typ, p, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		var m Message
		if typ != ws.MessageText || json.Unmarshal(p, &m) != nil || m.Type == "" {
			return ErrEnvelope
		}
		if err := f.Deliver(m); err != nil {
			return err
		}
	}
}

// url returns the ws: or wss: URL of the feed.
func (t WS) url(f Feed) string {
	path := t.Path
	if path == "" {
		path = "/ws/realtime"
	}
	var b strings.Builder
	switch {
	case strings.HasPrefix(f.URL, "https://"):
		b.WriteString("wss://" + f.URL[len("https://"):])
	case strings.HasPrefix(f.URL, "http://"):
		b.WriteString("ws://" + f.URL[len("http://"):])
	default:
		b.WriteString(f.URL)
	}
	b.WriteString(path)
	b.WriteString("?topic=" + f.Topic) // ValidTopic: no escaping needed
	if !f.From.IsZero() {
		b.WriteString("&cursor=" + f.From.String())
	}
	if f.Heartbeat > 0 {
		b.WriteString("&heartbeat=" + strconv.FormatInt(f.Heartbeat.Milliseconds(), 10))
	}
	return b.String()
}
