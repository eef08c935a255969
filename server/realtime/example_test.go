//go:build !js

package realtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/wire"
)

// Mount comet's realtime endpoints under /realtime/ of your own mux.
func Example() {
	rt, err := realtime.New(realtime.Config{
		Origins: []string{"https://app.example"}, // the pages that may connect, your own included
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

// A read-only session over short polling: any HTTP client follows many
// topics with one request per poll; the answer is lines ("T data" per
// message, a JSON frame otherwise).
func ExampleHandler_sessionPoll() {
	rt, err := realtime.New(realtime.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(http.StripPrefix("/realtime", rt))
	defer srv.Close()
	rt.Publish(context.Background(), "news", "", json.RawMessage(`"first"`))
	rt.Publish(context.Background(), "weather", "rain", json.RawMessage(`{"mm":3}`))

	resp, err := http.Get(srv.URL + "/realtime/session/poll?sub=1,news,oldest&sub=2,weather,oldest")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	wire.SplitLines(body, func(line []byte) error {
		l, err := wire.ParseLine(line)
		if err != nil {
			return err
		}
		if l.IsMessage {
			fmt.Printf("topic %d: %s %s\n", l.T, l.Type, l.Data)
		} else {
			fmt.Printf("frame %s of %s, after offset %d\n", l.Frame.Op, l.Frame.Topic, l.Frame.Cursor.Offset)
		}
		return nil
	})
	// Output:
	// frame sub of news, after offset 0
	// topic 1: message "first"
	// frame sub of weather, after offset 0
	// topic 2: rain {"mm":3}
}
