//go:build !js

package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cometwasm/comet/server/hub"
)

func Example() {
	h := hub.New(hub.Config{History: 100})
	defer h.Close()
	ctx := context.Background()
	sub, _ := h.Subscribe(ctx, "chat", hub.Cursor{}) // from now on
	defer sub.Close()
	h.Publish("chat", "message", json.RawMessage(`{"text":"hi"}`))
	ms, _ := sub.Next(ctx)
	fmt.Println(ms[0].Offset, ms[0].Type, string(ms[0].Data))

	// A reader that comes back resumes from its last cursor.
	b, err := h.Read("chat", hub.Cursor{Epoch: "stale", Offset: 1})
	if errors.Is(err, hub.ErrGap) {
		fmt.Println("gap:", b.Gap.Reason)
	}
	// Output:
	// 1 message {"text":"hi"}
	// gap: epoch
}
