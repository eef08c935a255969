//go:build !js

package main

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// The dashboard demo's topics: dash:1 … dash:20, published by the server
// only (Config.ServerTopics), each at its own pace so the page's counters
// differ: topic k gets a reading every 200ms × k, a random walk
// {"n":count,"v":value}.
const (
	dashPrefix = "dash:"
	dashTopics = 20
)

// startDashboard publishes the dashboard topics until Close.
func (s *server) startDashboard() {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		var n [dashTopics]int
		var v [dashTopics]float64
		for step := 1; ; step++ {
			select {
			case <-s.ctx.Done():
				return
			case <-tick.C:
			}
			for k := 1; k <= dashTopics; k++ {
				if step%k != 0 {
					continue
				}
				i := k - 1
				n[i]++
				v[i] += rand.Float64()*2 - 1
				data, _ := json.Marshal(map[string]any{"n": n[i], "v": float64(int(v[i]*100)) / 100})
				s.rt.Publish(s.ctx, dashPrefix+strconv.Itoa(k), "reading", data)
			}
		}
	})
	s.onClose(wg.Wait)
}
