//go:build !js

package main

// routesXHR registers Ajax, CORS, JSONP, beacon and upload endpoints (issue: wasm/xhr).
func (s *server) routesXHR() error {
	return nil
}
