//go:build !unix && !js

package httpx

// peekReady cannot peek here: the caller's read waits instead.
func peekReady(uintptr) (bool, error) { return true, nil }
