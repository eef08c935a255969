//go:build js && wasm

package message_test

import (
	"context"
	"fmt"

	"github.com/cometwasm/comet/wasm/message"
)

// A page talks to an iframe from another origin: it listens only to that
// origin and answers the sender.
func Example() {
	const frameOrigin = "https://widgets.example"
	l, err := message.Listen(message.Options{Origins: []string{frameOrigin}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	m, err := l.Next(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Source.Post(m.Origin, "got "+m.Data)
}
