//go:build !js

package main

// routesRealtime registers the hub and its transports: SSE, polling, long polling, streaming.
func (s *server) routesRealtime() error {
	s.onClose(s.hub.Close)
	return nil
}
