//go:build !js

package httpx

import (
	"net"
	"time"
)

// writeDeadline keeps a connection's write deadline for writes that must
// each finish within timeout, setting it lazily: a write starting now
// gets a fresh deadline (now + timeout) only when less than half of
// timeout is left on the current one, so every write finishes, or fails,
// within half to all of timeout, and a run of writes costs one
// SetWriteDeadline per half timeout rather than one or two per write (two
// were a tenth of a fan-out's CPU per delivery). The deadline is never
// cleared: every writer of the connection calls before first. The
// caller serializes the calls; a zero timeout sets none.
type writeDeadline struct {
	timeout time.Duration
	at      time.Time // the deadline set on the connection
}

// before readies c for a write starting now.
func (d *writeDeadline) before(c net.Conn) {
	if d.timeout <= 0 {
		return
	}
	now := time.Now()
	if d.at.Sub(now) < d.timeout/2 {
		d.at = now.Add(d.timeout)
		c.SetWriteDeadline(d.at)
	}
}
