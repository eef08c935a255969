//go:build js && wasm

package jsonp_test

import (
	"context"
	"time"

	"github.com/cometwasm/comet/wasm/jsonp"
)

func ExampleGetJSON() {
	var v struct {
		OK bool `json:"ok"`
	}
	err := jsonp.GetJSON(context.Background(), "http://127.0.0.1:8081/jsonp", &jsonp.Options{Timeout: 5 * time.Second}, &v)
	if err != nil {
		println(err.Error()) // ErrTimeout, ErrLoad or ErrNoCallback
	}
}
