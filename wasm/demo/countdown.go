//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/wasm/sse"
)

// countdownSection is seed 001's SSE example: the server counts down from
// 10, one event a second; the page shows the connection state the way the
// notes do (Connecting… / Connected / Disconnected).
func countdownSection(config) *card {
	c := newCard("countdown", "SSE countdown",
		"The EventSource example from the course notes: the server sends {id, cnt} from 10 down to 0, then ends the stream. The browser reconnects, hears 204 No Content, and stops.")
	speed := selectOf("cd-speed", "1000", "200")
	speed.Options()[0].SetTextContent("1 s (as in the notes)")
	speed.Options()[1].SetTextContent("200 ms")
	start := button("cd-start", "Start", "", nil)
	stop := button("cd-stop", "Stop", "secondary", nil)
	stop.SetDisabled(true)
	state := el("span", "indicator off", "Disconnected")
	state.SetID("cd-state")
	id := el("span", "", "–")
	id.SetID("cd-id")
	cnt := el("span", "big", "–")
	cnt.SetID("cd-data")
	log := newLog("cd-log", "Connection states", 30)
	add(c.body,
		el("div", "row", labelled("Interval", speed), start, stop),
		el("p", "sse-head", "SSE: ", state),
		el("p", "", "Id: ", id, " · Data: ", cnt),
		log.root)

	setState := func(kind, text string) {
		state.SetAttribute("class", "indicator "+kind)
		state.SetTextContent(text)
	}
	var mu sync.Mutex
	var cancel context.CancelFunc
	onClick(stop, func() {
		mu.Lock()
		if cancel != nil {
			cancel()
		}
		mu.Unlock()
	})
	onClick(start, func() {
		ctx, stopFn := context.WithCancel(context.Background())
		defer stopFn()
		mu.Lock()
		cancel = stopFn
		mu.Unlock()
		start.SetDisabled(true)
		stop.SetDisabled(false)
		defer func() {
			start.SetDisabled(false)
			stop.SetDisabled(true)
		}()
		c.fail(nil)
		log.clear()
		began := time.Now()
		src, err := sse.Open(ctx, "/realtime/countdown?interval="+speed.Value()+"&retry=500", &sse.Options{
			OnState: func(s sse.ReadyState) {
				switch s {
				case sse.StateConnecting:
					setState("wait", "Connecting...")
				case sse.StateOpen:
					setState("on", "Connected")
				case sse.StateClosed:
					setState("off", "Disconnected")
				}
				log.add("", s.String()+" "+stamp(time.Since(began)))
			},
		})
		if err != nil {
			c.fail(err)
			return
		}
		defer src.Close()
		for ev, err := range src.All(ctx) {
			if err != nil {
				var se *sse.Error
				switch {
				case errors.As(err, &se) && se.Status == 204:
					c.say("ok", "Finished: the browser reconnected after the stream ended, got 204 No Content, and stopped for good.")
				case errors.Is(err, context.Canceled), errors.Is(err, sse.ErrClosed):
					c.say("", "Stopped.")
				default:
					c.fail(err)
				}
				break
			}
			var d struct {
				ID  string `json:"id"`
				Cnt int    `json:"cnt"`
			}
			if json.Unmarshal([]byte(ev.Data), &d) != nil {
				c.fail(errors.New("the server sent data that is not the countdown's JSON: " + ev.Data))
				continue
			}
			id.SetTextContent(d.ID)
			cnt.SetTextContent(strconv.Itoa(d.Cnt))
			log.add("in", "event id="+ev.ID+" data="+ev.Data+" "+stamp(time.Since(began)))
		}
		setState("off", "Disconnected")
	})
	return c
}
