//go:build js && wasm

package xhr_test

import (
	"context"
	"io"
	"net/url"
	"time"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

func ExampleSend() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := xhr.Send(ctx, &xhr.Request{
		Method: "POST",
		URL:    "/api/ajax4",
		Body:   xhrjson.Body{Value: map[string]string{"id": "1", "content": "hello"}},
	})
	if err != nil {
		println(err.Error())
		return
	}
	var out struct{ ID, Content string }
	if resp.OK() && xhrjson.Decode(resp, &out) == nil {
		println(out.Content)
	}
}

func ExampleRequest_progress() {
	resp, err := xhr.Send(context.Background(), &xhr.Request{
		URL:   "/xhr/bytes",
		Query: url.Values{"n": {"1000000"}},
		OnProgress: func(p xhr.Progress) {
			if p.Type == "progress" && p.LengthComputable {
				println(p.Loaded * 100 / p.Total)
			}
		},
	})
	if err == nil {
		println(len(resp.Bytes()))
	}
}

func ExampleStream() {
	resp, err := xhr.Stream(context.Background(), &xhr.Request{URL: "/xhr/stream?n=5"})
	if err != nil {
		return
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		println(string(buf[:n]))
		if err == io.EOF {
			return
		}
		if err != nil {
			return
		}
	}
}
