//go:build js && wasm

package wsjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/ws/wsjson"
)

func TestRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(testenv.ServerURL(t), "http")+"/ws/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	type msg struct {
		Type string   `json:"type"`
		N    int      `json:"n"`
		Tags []string `json:"tags"`
	}
	in := msg{Type: "x", N: 42, Tags: []string{"한국어", "b"}}
	if err := wsjson.Write(ctx, c, in); err != nil {
		t.Fatal(err)
	}
	var out msg
	if err := wsjson.Read(ctx, c, &out); err != nil || out.Type != in.Type || out.N != 42 || len(out.Tags) != 2 || out.Tags[0] != "한국어" {
		t.Fatalf("Read = %+v, %v", out, err)
	}
	// Not JSON: a *json.SyntaxError, and the conn stays open.
	c.Write(ctx, ws.MessageText, []byte("{oops"))
	var serr *json.SyntaxError
	if err := wsjson.Read(ctx, c, &out); !errors.As(err, &serr) {
		t.Fatalf("Read of bad JSON = %v, want *json.SyntaxError", err)
	}
	c.Write(ctx, ws.MessageBinary, []byte("{}"))
	if err := wsjson.Read(ctx, c, &out); !errors.Is(err, wsjson.ErrNotText) {
		t.Fatalf("Read of binary = %v, want ErrNotText", err)
	}
	if err := wsjson.Write(ctx, c, func() {}); err == nil {
		t.Fatal("Write of a func: no error")
	}
}
