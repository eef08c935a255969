//go:build js && wasm

// Command nethttp is the size comparison for net/http's wasm client
// (fetch underneath): one GET, body read.
package main

import (
	"io"
	"net/http"
	"syscall/js"
)

func main() {
	resp, err := http.Get(js.Global().Get("location").Get("href").String())
	if err != nil {
		js.Global().Get("console").Call("log", err.Error())
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	js.Global().Get("console").Call("log", len(b))
}
