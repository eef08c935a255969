//go:build js && wasm

package xhrhttp_test

import (
	"context"
	"net/http"
	"strings"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrhttp"
)

func ExampleWithUploadProgress() {
	client := &http.Client{Transport: &xhrhttp.Transport{}}
	ctx := xhrhttp.WithUploadProgress(context.Background(), func(p xhr.Progress) {
		println(p.Type, p.Loaded, p.Total)
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", "/xhr/sink", strings.NewReader("hello"))
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
	}
}
