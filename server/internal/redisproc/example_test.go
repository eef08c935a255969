//go:build !js

package redisproc_test

import (
	"context"
	"fmt"

	"github.com/cometwasm/comet/server/internal/redisproc"
)

func Example() {
	s, err := redisproc.Start(redisproc.Config{AppendOnly: true})
	if err != nil {
		fmt.Println("no redis-server:", err)
		return
	}
	defer s.Close()
	reply, _ := s.Do(context.Background(), "SET", "greeting", "hello")
	fmt.Println(reply)
	s.Restart() // SIGTERM, then the same port and directory: the AOF reloads
	reply, _ = s.Do(context.Background(), "EXISTS", "greeting")
	fmt.Println(reply)
	// Output:
	// +OK
	// :1
}
