//go:build js && wasm

package xhrjson_test

import (
	"context"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

func Example() {
	resp, err := xhr.Send(context.Background(), &xhr.Request{
		Method: "POST",
		URL:    "/api/ajax4",
		Body:   xhrjson.Body{Value: map[string]string{"id": "1", "content": "hello"}},
	})
	if err != nil {
		return
	}
	var out struct {
		ID      string `json:"id"`
		Content string `json:"content"`
	}
	if resp.OK() && xhrjson.Decode(resp, &out) == nil {
		println(out.ID, out.Content)
	}
}
