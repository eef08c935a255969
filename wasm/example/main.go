//go:build js && wasm

// Command example is the smallest Go WebAssembly program built on comet: it
// imports comet's packages like any other Go module and prints what it did.
// Build it with
//
//	GOOS=js GOARCH=wasm go build -o example.wasm ./wasm/example
//
// and load example.wasm with Go's wasm_exec.js, as public/loader.js does.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cometwasm/comet/wasm/message"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, ""); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// run asks the server (base, "" for the page's own origin) whether it is
// up with wasm/xhr, then posts a message to this window and reads it back
// through a wasm/message listener that trusts only this page's origin.
func run(ctx context.Context, base string) error {
	resp, err := xhr.Send(ctx, &xhr.Request{URL: base + "/healthz", ResponseType: xhr.ResponseJSON})
	if err != nil {
		return err
	}
	var health struct{ OK bool }
	if err := xhrjson.Decode(resp, &health); err != nil {
		return err
	}
	fmt.Printf("server: HTTP %d, ok=%v\n", resp.Status, health.OK)

	self, err := message.Self()
	if err != nil {
		return err
	}
	origin := self.JSValue().Get("location").Get("origin").String()
	l, err := message.Listen(message.Options{Origins: []string{origin}})
	if err != nil {
		return err
	}
	defer l.Close()
	if err := self.Post("/", "hello from Go"); err != nil {
		return err
	}
	m, err := l.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("message from %s: %s\n", m.Origin, m.Data)
	return nil
}
