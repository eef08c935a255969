//go:build !js

package main

// routesWS registers WebSocket echo and chat.
func (s *server) routesWS() error {
	return nil
}
