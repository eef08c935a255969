//go:build js && wasm

package comet

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// TestWSSubscribe puts WS first in line: Subscribe starts on it, resumes
// it across cuts, falls back to SSE when a stalled connection goes silent,
// and the application still sees every message once, in order.
func TestWSSubscribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := "wssub-" + strconv.FormatUint(rand.Uint64(), 36)
	from := wsPublish(t, ctx, topic, 1)
	wsFetch(t, ctx, "POST", "/test/realtime/faults", `{"topic":"`+topic+`","cuts":6,"stalls":1,"every":80}`)
	var switches []Switch
	sub, err := SubscribeFeed(ctx, topic, &Options{
		URL: testenv.ServerURL(t), Transports: []Transport{WS{}, SSE{}}, From: from,
		Heartbeat: 150 * time.Millisecond, Silence: 500 * time.Millisecond, Backoff: 20 * time.Millisecond,
		OnSwitch: func(s Switch) { switches = append(switches, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const batches, size = 6, 100
	for range batches {
		wsPublish(t, ctx, topic, size)
	}
	for want := from.Offset + 1; want <= from.Offset+batches*size; want++ {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("Next (want offset %d): %v", want, err)
		}
		if m.Offset != want {
			t.Fatalf("offset %d, want %d: lost or duplicated", m.Offset, want)
		}
	}
	f := wsFetch(t, ctx, "GET", "/test/realtime/faults?topic="+topic, "")
	st := sub.Stats()
	t.Logf("%d cuts, %d stalls; %d reconnects, %d switches: %+v", f.Get("cuts").Int(), f.Get("stalls").Int(), st.Reconnects, st.Switches, switches)
	if len(switches) == 0 || switches[0].To != "ws" {
		t.Fatalf("first transport %+v, want ws", switches)
	}
	sse := false
	for _, s := range switches {
		sse = sse || s.From == "ws" && s.To == "sse"
	}
	if f.Get("stalls").Int() > 0 && !sse {
		t.Errorf("a stalled ws never fell back to sse: %+v", switches)
	}
}
