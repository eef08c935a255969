//go:build !js

package realtime_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

// TestSessionFramesBounded: a backlog of ~330 KB (3,000 messages from the
// oldest) arrives complete and in order, several messages to a frame, and
// no WebSocket message or SSE event is over 32 KiB. The first frames are
// small and each is at most what came before it (2 KiB at first), so a
// path that cuts connections after a few KiB still passes whole frames.
func TestSessionFramesBounded(t *testing.T) {
	t.Parallel()
	const n, limit = 3000, 32 << 10
	for _, tc := range []struct {
		name string
		open func(t testing.TB, nd *node) *client
		size func(b []byte) int // the frame's bytes on the wire, from what read returned
	}{
		{"ws", func(t testing.TB, nd *node) *client { return dialWS(t, nd, "sub=1,backlog,oldest", nil) },
			func(b []byte) int { return len(b) }},
		{"sse", func(t testing.TB, nd *node) *client { return openStream(t, nd, "sse", "sub=1,backlog,oldest", nd, nil) },
			func(b []byte) int { return len(b) + len("data:")*bytes.Count(b, []byte{'\n'}) + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nd := newNode(t, realtime.Config{History: n})
			data := make([]string, n)
			for i := range data {
				data[i] = fmt.Sprintf(`{"i":%d,"p":"%s"}`, i, strings.Repeat("x", 90))
			}
			for i := 0; i < n; i += 100 {
				publish(t, nd.h.Broker(), "backlog", data[i:i+100]...)
			}
			c := tc.open(t, nd)
			largest, before := 0, 0
			var over []string // frames over the slow start's bound
			read := c.read
			c.read = func() ([]byte, error) {
				b, err := read()
				size := tc.size(b)
				// the bound counts lines without their SSE prefix; a frame
				// holds at least one line (~110 B here)
				if bound := min(max(before, 2<<10), limit)*11/10 + 128; size > bound && len(over) < 5 {
					over = append(over, fmt.Sprintf("%d B after %d B", size, before))
				}
				largest = max(largest, size)
				before += size
				return b, err
			}
			c.frame(wire.OpSubscribe)
			got := c.messages(n)[1]
			for i, d := range got {
				if d != data[i] {
					t.Fatalf("message %d: got %s, want %s", i, d, data[i])
				}
			}
			t.Logf("%s: %d messages in %d frames, the largest %d B", tc.name, n, c.frames, largest)
			if largest > limit {
				t.Errorf("a frame of %d B, over %d", largest, limit)
			}
			if c.multi == 0 {
				t.Errorf("no frame held more than one message")
			}
			if len(over) > 0 {
				t.Errorf("frames larger than what the connection carried before them: %v", over)
			}
			if largest < limit/2 {
				t.Errorf("the largest frame is %d B: the frames never grew to %d", largest, limit/2)
			}
		})
	}
}
