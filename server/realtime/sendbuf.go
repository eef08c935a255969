//go:build !js

package realtime

import (
	"context"
	"net"
)

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets the Handler reach
// each request's connection, to give streams a small kernel send buffer
// (Config.StreamSendBuffer). Without it streams keep the system's
// autotuned buffer, up to megabytes per reader that stopped reading.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// shrinkSendBuffer sets the send buffer of ctx's TCP connection (see
// ConnContext) to n bytes, so a reader that stops reading blocks the
// stream's write after about n unsent bytes and is dropped by
// StreamWriteTimeout, instead of the kernel queueing megabytes for it.
func shrinkSendBuffer(ctx context.Context, n int) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = tc.NetConn()
	}
	if tc, ok := c.(interface{ SetWriteBuffer(int) error }); ok && n > 0 {
		tc.SetWriteBuffer(n)
	}
}
