//go:build !js

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

func Example() {
	b := memory.New(broker.Limits{History: 100})
	defer b.Close()
	ctx := context.Background()
	sub, _ := b.Subscribe(ctx, "chat", wire.Cursor{}) // from now on
	defer sub.Close()
	r, _ := b.Publish(ctx, "chat", []wire.Draft{{Data: json.RawMessage(`{"text":"hi"}`)}}, broker.PublishOptions{IdempotencyKey: "k1"})
	again, _ := b.Publish(ctx, "chat", []wire.Draft{{Data: json.RawMessage(`{"text":"hi"}`)}}, broker.PublishOptions{IdempotencyKey: "k1"})
	fmt.Println(r.Cursor.Offset, again.Cursor == r.Cursor, again.Repeat)
	ms, _ := sub.Next(ctx)
	fmt.Println(len(ms), ms[0].Offset, ms[0].Type, string(ms[0].Data))

	// A reader that comes back with a cursor of another epoch gets a gap.
	_, err := b.Read(ctx, "chat", wire.Cursor{Epoch: "stale", Offset: 1}, 0)
	var gap *broker.GapError
	if errors.As(err, &gap) {
		fmt.Println("gap:", gap.Reason)
	}
	// Output:
	// 1 true true
	// 1 1 message {"text":"hi"}
	// gap: epoch
}
