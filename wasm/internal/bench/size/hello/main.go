//go:build js && wasm

// Command hello is the size baseline: syscall/js and nothing else.
package main

import "syscall/js"

func main() {
	js.Global().Get("console").Call("log", "hello")
}
