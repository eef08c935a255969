//go:build !js

package realtime

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// topicQuota is one token bucket per client IP for the topics a client
// creates by publishing (Config.NewTopicRate, NewTopicBurst): one client
// cannot take the whole topic table (broker.Limits.MaxTopics).
type topicQuota struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the table; past it full buckets are forgotten.
const maxBuckets = 4096

func newTopicQuota(rate float64, burst int) *topicQuota {
	return &topicQuota{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// refillLocked returns ip's bucket, refilled up to now.
func (q *topicQuota) refillLocked(ip string, now time.Time) *bucket {
	b := q.buckets[ip]
	if b == nil {
		if len(q.buckets) >= maxBuckets {
			for k, o := range q.buckets {
				if o.tokens+now.Sub(o.last).Seconds()*q.rate >= q.burst {
					delete(q.buckets, k)
				}
			}
		}
		b = &bucket{tokens: q.burst, last: now}
		q.buckets[ip] = b
	}
	b.tokens = min(q.burst, b.tokens+now.Sub(b.last).Seconds()*q.rate)
	b.last = now
	return b
}

// has reports whether ip may create a topic now.
func (q *topicQuota) has(ip string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.refillLocked(ip, time.Now()).tokens >= 1
}

// take charges ip for one created topic.
func (q *topicQuota) take(ip string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.refillLocked(ip, time.Now()).tokens--
}

// clientIP is the peer address of r's connection (never a forwarded
// header: any client can send one).
func clientIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}
