//go:build js && wasm

// Package beacon sends one-way signals to a server: the image ping of the
// Ajax era and navigator.sendBeacon.
//
// Use Ping to request a URL as an image (works cross-origin without CORS;
// the server answers a 1×1 GIF, and the page learns only load or error),
// and Send to queue a POST with navigator.sendBeacon, which survives the
// page unloading. Neither reads the server's answer.
// MDN: https://developer.mozilla.org/docs/Web/API/Navigator/sendBeacon
//
// # Limits
//
// sendBeacon caps the data (64 KiB in flight in Chromium) and returns
// false beyond it: Send reports ErrRefused. A string is sent as
// text/plain, which keeps a cross-origin beacon a simple request. Node has
// neither API: both return ErrUnsupported.
package beacon
