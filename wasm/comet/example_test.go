//go:build js && wasm

package comet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cometwasm/comet/wasm/comet"
)

func Example() {
	ctx := context.Background()
	// The default transports: WS, SSE, Stream, LongPoll, Poll.
	sub, err := comet.Subscribe(ctx, "chat", &comet.Options{
		Heartbeat: 10 * time.Second,
		OnSwitch: func(s comet.Switch) {
			fmt.Println("transport:", s.From, "→", s.To, s.Err)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	for m, err := range sub.All(ctx) {
		var gap *comet.GapError
		if errors.As(err, &gap) {
			fmt.Println("history lost; resume from", gap.Resume)
			return
		}
		fmt.Println(m.Offset, m.Type, string(m.Data))
	}
}
