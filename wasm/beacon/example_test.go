//go:build js && wasm

package beacon_test

import (
	"context"

	"github.com/cometwasm/comet/wasm/beacon"
)

func ExamplePing() {
	if err := beacon.Ping(context.Background(), "http://127.0.0.1:8081/beacon.gif?tag=open"); err != nil {
		println(err.Error())
	}
}

func ExampleSend() {
	// Typically from a "pagehide" listener.
	_ = beacon.Send("/beacon?tag=leave", `{"seconds":42}`)
}
