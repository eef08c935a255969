//go:build js && wasm

package main

import (
	"context"
	"syscall/js"

	"honnef.co/go/js/dom/v2"

	"github.com/cometwasm/comet/wasm/message"
)

// runFrame is the program inside frame.html, served from the second origin
// and embedded by the messaging section. It trusts only the parent origin
// named in ?parent=, and answers every message.
func runFrame() {
	app := doc.GetElementByID("app").(dom.HTMLElement)
	app.RemoveAttribute("hidden")
	self := js.Global().Get("location").Get("origin").String()
	log := newLog("frame-log", "Messages in the frame", 20)
	status := el("p", "status muted")
	status.SetID("frame-status")
	status.SetAttribute("role", "status")
	add(app, el("p", "", "I am a frame on ", el("code", "", self), "."), status, log.root)

	params := js.Global().Get("URLSearchParams").New(js.Global().Get("location").Get("search"))
	parent, err := message.NormalizeOrigin(params.Call("get", "parent").String())
	if err != nil {
		status.SetTextContent(plain(err) + " (the ?parent= parameter)")
		return
	}
	l, err := message.Listen(message.Options{Origins: []string{parent}})
	if err != nil {
		status.SetTextContent(plain(err))
		return
	}
	up, err := message.Parent()
	if err == nil {
		err = up.Post(parent, "ready")
	}
	if err != nil {
		status.SetTextContent(plain(err))
		return
	}
	status.SetTextContent("Listening to " + parent + " only.")
	go func() {
		for {
			m, err := l.Next(context.Background())
			if err != nil {
				status.SetTextContent(plain(err))
				return
			}
			log.add("in", "← "+m.Data)
			reply := "echo: " + m.Data
			if err := m.Source.Post(m.Origin, reply); err != nil {
				status.SetTextContent(plain(err))
				continue
			}
			log.add("out", "→ "+reply)
		}
	}()
}
