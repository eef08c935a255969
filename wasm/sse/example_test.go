//go:build js && wasm

package sse_test

import (
	"context"
	"fmt"

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
