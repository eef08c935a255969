//go:build !js

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chromedp/chromedp"
)

// transports are the hub transports, in the order the report lists them.
var transports = []string{"poll", "longpoll", "stream", "sse", "ws"}

// feedSpec is one subscription run: the page follows topic over transport
// (implementation impl) while the host publishes count messages, gap apart.
type feedSpec struct {
	impl, transport, topic string
	origin                 string // the page's origin (server or proxy)
	count                  int
	gap                    time.Duration
	interval               int           // poll interval, ms
	duration               time.Duration // with count 0: how long to follow
	// started runs once the page is subscribed, just before publishing.
	started func()
	// session follows the topic over a session (comet.Connect, then
	// Client.Subscribe) instead of the single-topic endpoint.
	session bool
	// shared follows it with comet.Subscribe (a session on the page's
	// shared Client), what an application calls.
	shared bool
}

// benchData is the data of one published message: the publish time (Unix
// ns) and a sequence number.
type benchData struct {
	T int64 `json:"t"`
	I int   `json:"i"`
}

// feed runs spec and returns the page's result.
func (b *bench) feed(ctx context.Context, e *env, spec feedSpec) (result, error) {
	// A first message that subscribers skip fixes the start cursor.
	cur, err := publish(ctx, e.srv.Page, spec.topic, []map[string]any{{"type": "start", "data": nil}})
	if err != nil {
		return result{}, err
	}
	if _, err := chromedp.Run(e.tab, chromedp.Evaluate[bool](`globalThis.benchReadyFlag = false`)); err != nil {
		return result{}, err
	}
	params := map[string]any{
		"transport": spec.transport, "topic": spec.topic, "cursor": cur, "count": spec.count,
		"interval": spec.interval, "duration": spec.duration.Milliseconds(), "base": spec.origin,
	}
	type outcome struct {
		r   result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		kase := "subscribe"
		switch {
		case spec.shared:
			kase = "shared"
		case spec.session:
			kase = "session"
		}
		r, err := e.run(ctx, spec.impl, kase, params, 60*time.Second)
		done <- outcome{r, err}
	}()
	if err := e.ready(ctx, 15*time.Second); err != nil {
		o := <-done
		if o.err != nil {
			return result{}, o.err
		}
		return result{}, err
	}
	time.Sleep(400 * time.Millisecond) // let the connection settle
	if spec.started != nil {
		spec.started()
	}
	for i := 0; i < spec.count; i++ {
		data, _ := json.Marshal(benchData{T: time.Now().UnixNano(), I: i})
		if _, err := publish(ctx, e.srv.Page, spec.topic, []map[string]any{{"type": "message", "data": json.RawMessage(data)}}); err != nil {
			return result{}, fmt.Errorf("publishing: %w", err)
		}
		time.Sleep(spec.gap)
	}
	o := <-done
	return o.r, o.err
}
