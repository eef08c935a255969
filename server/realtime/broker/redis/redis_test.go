//go:build !js

package redis_test

import (
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/brokertest"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
)

func newBroker(t testing.TB, url string, l broker.Limits) *redis.Broker {
	t.Helper()
	b, err := redis.New(redis.Config{URL: url, Limits: l, Timeout: 2 * time.Second, Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := redisproc.ForTest(t, redisproc.Config{})
	brokertest.Run(t, func(t testing.TB, l broker.Limits) broker.Broker { return newBroker(t, srv.URL(0), l) })
}
