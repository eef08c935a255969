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
		switch {
		case errors.As(err, &gap):
			fmt.Println("history lost; resume from", gap.Resume)
			return
		case err != nil: // an *UnconfirmedError: the connection switches transport and goes on
			fmt.Println(err)
			continue
		}
		fmt.Println(m.Offset, m.Type, string(m.Data))
	}
}

func ExampleSubscribe() {
	ctx := context.Background()
	// 8 topics, one connection: each Subscribe with the same settings
	// shares it; it closes when the last subscription closes.
	for i := range 8 {
		sub, err := comet.Subscribe(ctx, fmt.Sprintf("dash:%d", i+1), nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		go func() {
			defer sub.Close()
			for m, err := range sub.All(ctx) {
				if err == nil {
					fmt.Println(m.Topic, string(m.Data))
				}
			}
		}()
	}
	// A subscription that must not share (e.g. to measure its own
	// connection) asks for its own.
	own, _ := comet.Subscribe(ctx, "clock", &comet.Options{Private: true})
	defer own.Close()
}

// dropper is a Transport of the application's own: it wraps another and
// can cut its connection.
type dropper struct {
	comet.Transport
	cut chan struct{}
}

func (d dropper) Run(ctx context.Context, f comet.Feed) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.cut:
			cancel()
		case <-ctx.Done():
		}
	}()
	return d.Transport.Run(ctx, f)
}

func ExampleSubscribeFeed() {
	ctx := context.Background()
	// One topic on its own connection over the single-topic endpoints,
	// through a Transport that the page can cut (comet.Subscribe also
	// runs SubscribeFeed for a Transport that is not the package's own).
	d := dropper{Transport: comet.SSE{}, cut: make(chan struct{}, 1)}
	sub, err := comet.SubscribeFeed(ctx, "clock", &comet.Options{Transports: []comet.Transport{d}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()
	d.cut <- struct{}{} // the feed resumes from its cursor: nothing lost or repeated
	m, err := sub.Next(ctx)
	fmt.Println(m.Offset, err, sub.Stats().Reconnects)
}

func ExampleConnect() {
	ctx := context.Background()
	// One connection for every topic of the page.
	c, err := comet.Connect(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	news, _ := c.Subscribe(ctx, "news", nil)                                                         // from now on
	room, _ := c.Subscribe(ctx, "chat:lobby", &comet.SubscribeOptions{Oldest: true, Presence: true}) // all retained, and be present
	go func() {
		for m, err := range news.All(ctx) {
			if err != nil {
				fmt.Println(err) // a *GapError, or an *UnconfirmedError (the client switches transport and goes on)
				continue
			}
			fmt.Println("news:", string(m.Data))
		}
	}()
	who, _ := room.Who(ctx)
	fmt.Println(len(who), "here")
	cur, err := c.Publish(ctx, "chat:lobby", "chat", []byte(`"hello"`)) // stored exactly once, even across drops
	if errors.Is(err, comet.ErrForbidden) {
		fmt.Println("this page may not write there")
		return
	}
	fmt.Println("stored after", cur, "on", c.Active())
}

func ExampleOptions_token() {
	ctx := context.Background()
	// login returns a fresh token from the application's own endpoint,
	// e.g. the demo server's POST /demo/token.
	login := func(ctx context.Context) (string, error) { return "eyJ...", nil }
	c, err := comet.Connect(ctx, &comet.Options{Token: login})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	inbox, _ := c.Subscribe(ctx, "user:alice:inbox", nil)
	for m, err := range inbox.All(ctx) {
		switch {
		case errors.Is(err, comet.ErrForbidden):
			fmt.Println("not alice's topic")
			return
		case errors.Is(err, comet.ErrUnauthenticated):
			fmt.Println("signed out: even a fresh token is refused")
			return
		case err != nil:
			continue // e.g. an *UnconfirmedError: the client goes on
		}
		fmt.Println(string(m.Data)) // tokens renewed before exp: nothing lost or repeated
	}
}
