//go:build !js

package nginxproc_test

import (
	"fmt"

	"github.com/cometwasm/comet/server/internal/nginxproc"
)

func Example() {
	ng, err := nginxproc.Start(nginxproc.Config{Upstreams: []string{"127.0.0.1:8080", "127.0.0.1:8082"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ng.Close()
	fmt.Println("proxy at", ng.URL())
}
