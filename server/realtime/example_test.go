//go:build !js

package realtime_test

import (
	"log"
	"net/http"

	"github.com/cometwasm/comet/server/realtime"
)

// Mount comet's realtime endpoints under /realtime/ of your own mux.
func Example() {
	rt, err := realtime.New(realtime.Config{
		Origins: []string{"https://app.example"}, // pages that may connect cross-origin
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	mux := http.NewServeMux()
	mux.Handle("/realtime/", http.StripPrefix("/realtime", rt))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("my app")) })
	_ = &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
}
