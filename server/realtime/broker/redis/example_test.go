//go:build !js

package redis_test

import (
	"log"
	"net/http"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
)

// Every node of a deployment runs this with the same Redis: a message
// published on one reaches the subscribers of all, and a client that
// reconnects to another node resumes from its cursor.
func Example() {
	b, err := redis.New(redis.Config{
		URL:    "redis://127.0.0.1:6379/0",
		Limits: broker.Limits{History: 4096}, // messages kept per topic for resuming clients
	})
	if err != nil {
		log.Fatal(err) // matches broker.ErrUnavailable when Redis does not answer
	}
	defer b.Close()
	rt, err := realtime.New(realtime.Config{Broker: b})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	mux := http.NewServeMux()
	mux.Handle("/realtime/", http.StripPrefix("/realtime", rt))
	_ = &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
}
