//go:build !js

package realtime_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/realtime"
)

// BenchmarkFanout: one topic, 50 WebSocket connections on 127.0.0.1, a
// 64-byte payload; it reports the messages delivered per second over all
// connections, for a session and for the single-topic endpoint.
func BenchmarkFanout(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"session", "session/ws?sub=1,fan,"},
		{"single", "ws?topic=fan"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const conns = 50
			n := newNode(b, realtime.Config{History: 1 << 16, Logf: func(string, ...any) {}}) // no reader falls behind
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg, ready sync.WaitGroup
			ready.Add(conns)
			for range conns {
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.url, "http")+tc.path, nil)
				if err != nil {
					b.Fatal(err)
				}
				c.SetReadLimit(-1)
				wg.Go(func() {
					defer c.CloseNow()
					got, opened := 0, false
					for got < b.N {
						_, msg, err := c.Read(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if !opened { // hello / _open, then the sub answer for a session
							if tc.name == "single" || bytes.Contains(msg, []byte(`"op":"sub"`)) {
								opened = true
								ready.Done()
							}
							continue
						}
						if bytes.Contains(msg, []byte(`"op":"gap"`)) || bytes.Contains(msg, []byte(`"_gap"`)) {
							b.Error("a reader fell behind the history")
							return
						}
						if tc.name == "single" {
							got++
						} else {
							got += bytes.Count(msg, []byte("\n")) + 1
						}
					}
				})
			}
			ready.Wait()
			payload := `"` + strings.Repeat("x", 62) + `"`
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				publish(b, n.h.Broker(), "fan", payload)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*conns)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}
