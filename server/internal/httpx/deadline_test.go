//go:build !js

package httpx

import (
	"net"
	"testing"
	"time"
)

// deadlineCounter counts the write deadlines set on a connection.
type deadlineCounter struct {
	net.Conn
	set []time.Time
}

func (c *deadlineCounter) SetWriteDeadline(t time.Time) error {
	c.set = append(c.set, t)
	return c.Conn.SetWriteDeadline(t)
}

// TestWriteDeadline: a run of writes on a real loopback connection sets
// the deadline once, not per write; a write after the connection was idle
// past its deadline gets a fresh one and succeeds (the deadline is never
// left in the past for the next writer).
func TestWriteDeadline(t *testing.T) {
	_, raw := loopbackPair(t)
	c := &deadlineCounter{Conn: raw}
	const timeout = 200 * time.Millisecond
	d := writeDeadline{timeout: timeout}
	for range 100 {
		d.before(c)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.set) != 1 {
		t.Fatalf("%d deadlines set for 100 writes in a row, want 1", len(c.set))
	}
	time.Sleep(2 * timeout) // the deadline set has passed
	d.before(c)
	if _, err := c.Write([]byte("y")); err != nil {
		t.Fatalf("a write after an idle spell: %v", err)
	}
	if len(c.set) != 2 || !c.set[1].After(time.Now()) {
		t.Fatalf("deadlines %v: want a second one, in the future", c.set)
	}
	(&writeDeadline{}).before(c) // no timeout: no deadline
	if len(c.set) != 2 {
		t.Fatalf("a zero timeout set a deadline")
	}
}
