//go:build js && wasm

// Command demo is comet's demo page: every part of comet working in one
// page, written in Go with honnef.co/go/js/dom/v2. Each section lives in its
// own file; frame.go is the same program running inside the iframe of the
// cross-document messaging section.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"syscall/js"
	"time"

	"honnef.co/go/js/dom/v2"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// config is what GET /demo/config tells the page.
type config struct {
	PageOrigin   string `json:"pageOrigin"`
	SecondOrigin string `json:"secondOrigin"`
	Tokens       bool   `json:"tokens"` // -token-secret-file: sign-in (inbox.go)
}

// section is one card of the page and its entry in the navigation.
type section struct {
	id, nav string
	build   func(cfg config) *card
}

func sections() []section {
	return []section{
		{"ajax", "Ajax lab", ajaxSection},
		{"seeds", "Seed examples", seedsSection},
		{"cors", "Cross-origin", corsSection},
		{"jsonp", "JSONP & ping", jsonpSection},
		{"upload", "Resumable upload", uploadSection},
		{"race", "Comet race", raceSection},
		{"dashboard", "Dashboard", dashboardSection},
		{"inbox", "Sign-in", inboxSection},
		{"countdown", "SSE countdown", countdownSection},
		{"chat", "Chat", chatSection},
		{"messaging", "Messaging", messagingSection},
	}
}

func main() {
	if doc.QuerySelector("body.frame") != nil {
		runFrame()
		select {}
	}
	app := doc.GetElementByID("app").(dom.HTMLElement)
	top := doc.QuerySelector("header.top").(dom.HTMLElement)
	cfg, err := loadConfig()
	if err != nil {
		banner := el("p", "error", plain(err)+" Sections that talk to the second origin will not work.")
		banner.SetAttribute("role", "alert")
		app.AppendChild(banner)
	}

	nav := el("nav", "sections")
	nav.SetAttribute("aria-label", "Sections")
	list := el("ul", "")
	nav.AppendChild(list)
	top.AppendChild(nav)
	for _, s := range sections() {
		a := el("a", "", s.nav)
		a.SetAttribute("href", "#"+s.id)
		list.AppendChild(el("li", "", a))
		app.AppendChild(s.build(cfg).root)
	}
	app.RemoveAttribute("hidden")
	ready := el("p", "ready", "Go is running.")
	ready.SetID("app-ready")
	top.InsertBefore(ready, nav)
	select {}
}

// loadConfig asks the server for the two origins. It falls back to this
// page's origin alone.
func loadConfig() (config, error) {
	cfg := config{PageOrigin: js.Global().Get("location").Get("origin").String()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, err := fetchText(ctx, "/demo/config")
	if err != nil {
		return cfg, errors.Join(errors.New("could not load the demo settings"), err)
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		return cfg, errors.Join(errors.New("the demo settings are not JSON"), err)
	}
	return cfg, nil
}

// fetchText GETs a same-origin URL with fetch and returns its body.
func fetchText(ctx context.Context, url string) (string, error) {
	resp, err := jsutil.Await(ctx, js.Global().Call("fetch", url))
	if err != nil {
		return "", err
	}
	if !resp.Get("ok").Bool() {
		return "", errors.New("HTTP " + resp.Get("status").String())
	}
	text, err := jsutil.Await(ctx, resp.Call("text"))
	if err != nil {
		return "", err
	}
	return text.String(), nil
}
