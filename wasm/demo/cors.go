//go:build js && wasm

package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

// corsCase is one cross-origin request and how to explain its outcome.
type corsCase struct {
	id, title string
	run       func(ctx context.Context, second string) (kind, text string)
}

// addCases lists cases in c, each with a Run button and its result, plus
// one button that runs them all. Element ids start with prefix.
func addCases(c *card, prefix, origin, allLabel, doneText string, cases []corsCase) {
	var runs []func()
	for _, cc := range cases {
		out := el("p", "case-out muted", "Not run yet.")
		out.SetID(prefix + "-" + cc.id + "-out")
		run := func() {
			setKind(out, "case-out", "")
			out.SetTextContent("Running…")
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			kind, text := cc.run(ctx, origin)
			setKind(out, "case-out", kind)
			out.SetTextContent(text)
		}
		runs = append(runs, run)
		b := button(prefix+"-"+cc.id, "Run", "secondary", run)
		c.body.AppendChild(el("div", "case", el("div", "case-head", el("h3", "", cc.title), b), out))
	}
	all := button(prefix+"-all", allLabel, "", func() {
		for _, r := range runs {
			r()
		}
		c.say("ok", doneText)
	})
	c.body.InsertBefore(el("div", "row", all), c.body.FirstChild())
}

func corsSection(cfg config) *card {
	c := newCard("cors", "Cross-origin",
		"The same kind of request sent to the second origin. The browser asks the server whether this page may read the answer; each case says what it did, and why.")
	if cfg.SecondOrigin == "" {
		c.say("warn", "The server has no second origin, so there is nothing cross-origin to show.")
		return c
	}
	add(c.body, el("p", "muted", "This page: ", el("code", "", cfg.PageOrigin), " → second origin: ", el("code", "", cfg.SecondOrigin)))
	cases := []corsCase{
		{"allowed", "Allowed (simple GET)", corsAllowed},
		{"denied", "Denied (origin not allowed)", corsDenied},
		{"preflight", "Preflighted (PUT with a custom header)", corsPreflight},
		{"creds", "Credentialed (a cookie on the second origin)", corsCredentialed},
	}
	addCases(c, "cors", cfg.SecondOrigin, "Run all four", "All four cases ran.", cases)
	return c
}

func corsAllowed(ctx context.Context, second string) (string, string) {
	resp, err := xhr.Send(ctx, &xhr.Request{URL: second + "/cors/simple", ResponseType: xhr.ResponseJSON})
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	hidden := "hidden"
	if resp.Header.Get("X-Comet-Hidden") != "" {
		hidden = "readable (unexpected)"
	}
	return "ok", "Delivered: HTTP " + strconv.Itoa(resp.Status) + ". A GET with no custom headers is a simple request: the browser sent it at once with an Origin header, and the server answered Access-Control-Allow-Origin for this page, so the page may read it. X-Comet-Info is " +
		strconv.Quote(resp.Header.Get("X-Comet-Info")) + " because the server exposes it; X-Comet-Hidden stays " + hidden + "."
}

func corsDenied(ctx context.Context, second string) (string, string) {
	resp, err := xhr.Send(ctx, &xhr.Request{URL: second + "/cors/denied"})
	switch {
	case errors.Is(err, xhr.ErrNetwork):
		return "bad", "Blocked, status 0. The server did send an answer, but without Access-Control-Allow-Origin for this page, so the browser kept it from the page. The page only sees a network error: it cannot tell a CORS refusal from a dropped connection (the console says which)."
	case err != nil:
		return "bad", "Unexpected: " + plain(err)
	}
	return "bad", "Unexpected: the browser delivered HTTP " + strconv.Itoa(resp.Status) + "."
}

func corsPreflight(ctx context.Context, second string) (string, string) {
	resp, err := xhr.Send(ctx, &xhr.Request{
		Method: "PUT", URL: second + "/cors/preflight", ResponseType: xhr.ResponseJSON,
		Header: xhr.Header{"X-Comet-Token": {"secret-42"}},
		Body:   xhrjson.Body{Value: map[string]string{"note": "sent after the preflight"}},
	})
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	var data struct{ Method, Token string }
	xhrjson.Decode(resp, &data)
	return "ok", "Delivered: HTTP " + strconv.Itoa(resp.Status) + ", the server saw " + data.Method + " with token " + strconv.Quote(data.Token) +
		". PUT, the X-Comet-Token header and a JSON body are not 'simple', so the browser first sent an OPTIONS preflight; the server allowed that method and header (and let the browser cache the answer for 10 minutes), then the real PUT went out."
}

func corsCredentialed(ctx context.Context, second string) (string, string) {
	value := "c" + strconv.FormatInt(time.Now().UnixMilli()%1000000, 10)
	login, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: second + "/cors/login", Query: map[string][]string{"value": {value}}, WithCredentials: true})
	if err == nil {
		err = checked(login, nil)
	}
	if err != nil {
		return "bad", "Could not set the cookie: " + plain(err)
	}
	var with, without struct{ Cookie string }
	resp, err := xhr.Send(ctx, &xhr.Request{URL: second + "/cors/whoami", WithCredentials: true, ResponseType: xhr.ResponseJSON})
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	xhrjson.Decode(resp, &with)
	resp, err = xhr.Send(ctx, &xhr.Request{URL: second + "/cors/whoami", ResponseType: xhr.ResponseJSON})
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	xhrjson.Decode(resp, &without)
	if with.Cookie != value || without.Cookie != "" {
		return "bad", "Unexpected: with credentials the server saw " + strconv.Quote(with.Cookie) + ", without " + strconv.Quote(without.Cookie) + "."
	}
	return "ok", "With withCredentials the browser sent the second origin's cookie (" + strconv.Quote(with.Cookie) + ") and let the page read the answer, because the server replied Access-Control-Allow-Credentials: true and named this origin exactly (never *). Without it, no cookie was sent (the server saw \"\")."
}
