//go:build js && wasm

package wsjson

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/cometwasm/comet/wasm/ws"
)

// ErrNotText: Read got a binary message.
var ErrNotText = errors.New("wsjson: expected a text message, got binary")

// Read reads the next message and decodes it into v. A decoding error is
// wrapped in a *json error type (errors.As works) and leaves the
// connection open.
func Read(ctx context.Context, c *ws.Conn, v any) error {
	typ, p, err := c.Read(ctx)
	if err != nil {
		return err
	}
	if typ != ws.MessageText {
		return ErrNotText
	}
	return json.Unmarshal(p, v)
}

// Write encodes v and sends it as one text message.
func Write(ctx context.Context, c *ws.Conn, v any) error {
	p, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, ws.MessageText, p)
}
