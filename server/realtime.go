//go:build !js

package main

// routesRealtime registers the hub and its transports: SSE, polling, long polling, HTTP streaming.
func (s *server) routesRealtime() error {
	return nil
}
