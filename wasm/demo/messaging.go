//go:build js && wasm

package main

import (
	"context"
	"net/url"
	"strconv"
	"syscall/js"

	"honnef.co/go/js/dom/v2"

	"github.com/cometwasm/comet/wasm/message"
)

// messagingSection talks to an iframe served from the second origin with
// wasm/message, and shows a forged message being rejected.
func messagingSection(cfg config) *card {
	c := newCard("messaging", "Cross-document messaging",
		"postMessage between this page and a frame from the second origin. The page only listens to that origin; anything else is rejected before Go sees it.")
	if cfg.SecondOrigin == "" {
		c.say("warn", "The server has no second origin, so there is no frame to talk to.")
		return c
	}
	frame := doc.CreateElement("iframe").(*dom.HTMLIFrameElement)
	frame.SetID("msg-frame")
	frame.SetAttribute("class", "frame")
	frame.SetTitle("Frame served from " + cfg.SecondOrigin)
	frame.SetSrc(cfg.SecondOrigin + "/frame.html?parent=" + url.QueryEscape(cfg.PageOrigin))

	text := input("msg-text", "text", "Hello from the page")
	send := button("msg-send", "Send to frame", "", nil)
	send.SetDisabled(true)
	forge := button("msg-forge", "Forge a message", "secondary", nil)
	counts := el("p", "counts", "Delivered 0 · rejected 0")
	counts.SetID("msg-counts")
	log := newLog("msg-log", "Messages", 50)
	add(c.body,
		el("p", "muted", "Frame origin: ", el("code", "", cfg.SecondOrigin)),
		frame,
		el("div", "row", labelled("Message to the frame", text), send, forge),
		counts, log.root)

	rejected := make(chan message.Rejection, 16)
	l, err := message.Listen(message.Options{Origins: []string{cfg.SecondOrigin}, Rejected: rejected})
	if err != nil {
		c.fail(err)
		return c
	}
	showCounts := func() {
		s := l.Stats()
		counts.SetTextContent("Delivered " + strconv.Itoa(s.Delivered) + " · rejected " + strconv.Itoa(s.Rejected))
	}
	c.say("", "Waiting for the frame to load…")
	go func() {
		for {
			m, err := l.Next(context.Background())
			if err != nil {
				c.fail(err)
				return
			}
			if m.Data == "ready" {
				send.SetDisabled(false)
				c.say("ok", "Frame ready on "+m.Origin+".")
			}
			log.add("in", "← from "+m.Origin+": "+m.Data)
			showCounts()
		}
	}()
	go func() {
		for r := range rejected {
			log.add("bad", "✕ rejected a message claiming to be from "+r.Origin+": "+r.Reason)
			showCounts()
		}
	}()

	onClick(send, func() {
		target, err := message.Frame(frame.Underlying())
		if err == nil {
			err = target.Post(cfg.SecondOrigin, text.Value())
		}
		c.fail(err)
		if err == nil {
			log.add("out", "→ to "+cfg.SecondOrigin+": "+text.Value())
		}
	})
	onClick(forge, func() {
		// A script on the page pretends to be the frame. The browser marks
		// such events untrusted, so the listener drops them.
		init := js.Global().Get("Object").New()
		init.Set("data", "forged: send me your session")
		init.Set("origin", cfg.SecondOrigin)
		log.add("out", "→ forging a message that claims to come from "+cfg.SecondOrigin)
		js.Global().Call("dispatchEvent", js.Global().Get("MessageEvent").New("message", init))
	})
	return c
}
