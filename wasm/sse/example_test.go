//go:build js && wasm

package sse_test

import (
	"context"
	"fmt"

	"github.com/cometwasm/comet/server/wire"
	"github.com/cometwasm/comet/wasm/sse"
)

func Example() {
	ctx := context.Background()
	s, err := sse.Open(ctx, "/realtime/countdown", &sse.Options{
		Events:      []string{"chat"},
		MaxAttempts: 3, // give up after 3 failed connection attempts in a row
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for e, err := range s.All(ctx) {
		if err != nil { // e.g. *sse.Error: the browser gave up
			fmt.Println(err)
			return
		}
		fmt.Println(e.ID, e.Type, e.Data)
	}
}

// A replay from comet's server: flush=1 asks it to end each burst with a
// "_flush" event, which FlushEvent names, so the burst reaches Next when
// its last event arrives rather than at the page's next task.
func ExampleOptions_flushEvent() {
	ctx := context.Background()
	s, err := sse.Open(ctx, "/realtime/sse?topic=chat&cursor=EPOCH-0&flush=1", &sse.Options{FlushEvent: wire.SSEFlush})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for e, err := range s.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.ID, e.Data) // never the "_flush" event itself
	}
}
