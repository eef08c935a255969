//go:build !js

package main

// routesDemo registers pages the demo needs besides public/.
func (s *server) routesDemo() error {
	return nil
}
