//go:build !js

// Package nginxproc runs Debian's nginx as a reverse proxy in front of
// comet nodes, for tests and benchmarks: Start writes a config (an upstream
// of the nodes, WebSocket upgrade headers, no buffering, timeouts above the
// long-poll timeout) into a new temp folder, starts
// `nginx -p DIR -c nginx.conf -g 'daemon off;'` on a free 127.0.0.1 port,
// and Server.Stop ends it by its PID.
//
// Conf returns the config itself; the README's deployment section shows
// the same proxy settings.
//
// # Caveats
//
// Started as root, nginx runs its worker as nobody: the folder is made
// world-readable and its tmp/ world-writable. The kernel kills nginx if
// the test process dies first (Linux only).
package nginxproc
