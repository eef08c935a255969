//go:build !js

package realtime

import (
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// StreamLimiter caps concurrent long-lived requests (SSE, HTTP streaming,
// long polls, WebSocket, the XHR streaming test endpoints) in total and per
// client IP (Config.Streams). The IP is the peer address of the connection:
// a forwarded header is never trusted, since any client can send one.
type StreamLimiter struct {
	mu       sync.Mutex
	total    int
	perIP    map[string]int
	maxTotal int
	maxPerIP int
}

// NewStreamLimiter caps streams at maxTotal in total and maxPerIP per
// client IP.
func NewStreamLimiter(maxTotal, maxPerIP int) *StreamLimiter {
	return &StreamLimiter{perIP: map[string]int{}, maxTotal: maxTotal, maxPerIP: maxPerIP}
}

// Acquire takes a slot for r. If none is free it answers 503 with
// Retry-After and returns ok false; otherwise the caller must call release
// exactly once.
func (l *StreamLimiter) Acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	l.mu.Lock()
	if l.total >= l.maxTotal || l.perIP[ip] >= l.maxPerIP {
		l.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(2))
		httpx.WriteError(w, http.StatusServiceUnavailable, "too many concurrent streams; retry later")
		return nil, false
	}
	l.total++
	l.perIP[ip]++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.total--
			if l.perIP[ip]--; l.perIP[ip] == 0 {
				delete(l.perIP, ip)
			}
			l.mu.Unlock()
		})
	}, true
}

// Count returns the number of streams held.
func (l *StreamLimiter) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
