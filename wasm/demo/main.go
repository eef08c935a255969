//go:build js && wasm

// Command demo is comet's demo page: every part of comet working in one
// page, written in Go with honnef.co/go/js/dom/v2.
package main

import (
	"honnef.co/go/js/dom/v2"
)

func main() {
	doc := dom.GetWindow().Document()
	app := doc.GetElementByID("app").(dom.HTMLElement)
	ready := doc.CreateElement("p")
	ready.SetID("app-ready")
	ready.SetTextContent("Go is running.")
	app.AppendChild(ready)
	app.RemoveAttribute("hidden")
	select {}
}
