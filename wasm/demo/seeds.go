//go:build js && wasm

package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

// seedsSection replays the course notes' Ajax examples (seeds 000 and
// 001), each one click, written in Go over wasm/xhr.
func seedsSection(config) *card {
	c := newCard("seeds", "The seed examples, one click each",
		"The Ajax examples from the course notes, rewritten in Go: each button is one example.")
	ctx := context.Background()

	// ajax1: change content.
	demo := el("p", "demo-box", "Press the button and this text is replaced by the server's.")
	demo.SetID("seed-text")
	change := button("seed-change", "Change Content", "", nil)
	onClick(change, func() {
		resp, err := xhr.Send(ctx, &xhr.Request{URL: "/api/text", ResponseType: xhr.ResponseText})
		if err = checked(resp, err); err != nil {
			c.fail(err)
			return
		}
		c.fail(nil)
		demo.SetTextContent(resp.Text())
	})

	// ajax2: JSON for GET/POST/PUT/DELETE.
	method := el("td", "", "–")
	method.SetID("seed-method")
	des := el("td", "", "–")
	des.SetID("seed-des")
	table := el("table", "", el("tbody", "",
		el("tr", "", el("th", "", "method"), method),
		el("tr", "", el("th", "", "description"), des)))
	verbs := el("div", "row")
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		verbs.AppendChild(button("seed-"+strings.ToLower(m), strings.ToLower(m)+" call", "secondary", func() {
			resp, err := xhr.Send(ctx, &xhr.Request{Method: m, URL: "/api/ajax2", ResponseType: xhr.ResponseJSON})
			var data struct{ Method, Des string }
			if err = checked(resp, err); err == nil {
				err = xhrjson.Decode(resp, &data)
			}
			if err != nil {
				c.fail(err)
				return
			}
			c.fail(nil)
			method.SetTextContent(data.Method)
			des.SetTextContent(data.Des)
		}))
	}

	// ajax3: a loading state while the answer is delayed.
	state := el("p", "status muted", "state: idle")
	state.SetID("seed-state")
	delayed := el("p", "", "")
	delayed.SetID("seed-delayed")
	slow := button("seed-slow", "get call (2 s delay)", "", nil)
	onClick(slow, func() {
		slow.SetDisabled(true)
		defer slow.SetDisabled(false)
		delayed.SetTextContent("")
		start := time.Now()
		resp, err := xhr.Send(ctx, &xhr.Request{
			URL: "/api/ajax3", Query: map[string][]string{"delay": {"2000"}}, ResponseType: xhr.ResponseJSON,
			OnReadyState: func(s xhr.ReadyState) {
				if s < xhr.Done {
					setKind(state, "status", "warn")
					state.SetTextContent("state: loading… (readyState " + strconv.Itoa(int(s)) + ")")
				}
			},
		})
		var data struct{ Method, Des string }
		if err = checked(resp, err); err == nil {
			err = xhrjson.Decode(resp, &data)
		}
		if err != nil {
			setKind(state, "status", "bad")
			state.SetTextContent("state: failed")
			c.fail(err)
			return
		}
		c.fail(nil)
		setKind(state, "status", "ok")
		state.SetTextContent("state: loaded after " + time.Since(start).Round(10*time.Millisecond).String())
		delayed.SetTextContent(data.Method + " — " + data.Des)
	})

	// ajax4: a form POSTed as JSON, echoed back as {id, content}.
	idIn := input("seed-id", "text", "abcd")
	contentIn := input("seed-content", "text", "this is the content")
	form := el("form", "row", labelled("id", idIn), labelled("content", contentIn), submitButton("seed-json-send", "Send"))
	echoed := el("p", "", "")
	echoed.SetID("seed-echo")
	onSubmit(form, func() {
		resp, err := xhr.Send(ctx, &xhr.Request{
			Method: "POST", URL: "/api/ajax4", ResponseType: xhr.ResponseJSON,
			Body: xhrjson.Body{Value: map[string]string{"id": idIn.Value(), "content": contentIn.Value()}},
		})
		var data struct{ ID, Content string }
		if err = checked(resp, err); err == nil {
			err = xhrjson.Decode(resp, &data)
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.fail(nil)
		echoed.SetTextContent("Loaded. id: " + data.ID + " · content: " + data.Content)
	})

	// FormData with a file, built from a real <form>.
	file := input("seed-file", "file", "")
	note := input("seed-note", "text", "holiday photo")
	note.SetName("note")
	file.SetName("file")
	fdForm := el("form", "row", labelled("note", note), labelled("file", file), submitButton("seed-fd-send", "Upload with FormData"))
	fdOut := el("p", "", "")
	fdOut.SetID("seed-fd-out")
	onSubmit(fdForm, func() {
		fd, err := xhr.FormDataFrom(fdForm.Underlying())
		if err != nil {
			c.fail(err)
			return
		}
		resp, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: "/xhr/echo", Body: fd, ResponseType: xhr.ResponseJSON})
		var data struct {
			Headers map[string]string
			Body    string
			Size    int
		}
		if err = checked(resp, err); err == nil {
			err = xhrjson.Decode(resp, &data)
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.fail(nil)
		fdOut.SetTextContent("The server received " + strconv.Itoa(data.Size) + " bytes of " +
			strings.SplitN(data.Headers["Content-Type"], ";", 2)[0] + " with " + multipartParts(data.Body) + ".")
	})

	add(c.body,
		el("h3", "", "Change content"), el("div", "row", change), demo,
		el("h3", "", "JSON with GET, POST, PUT and DELETE"), verbs, table,
		el("h3", "", "A loading state"), el("div", "row", slow), state, delayed,
		el("h3", "", "A form POSTed as JSON"), form, echoed,
		el("h3", "", "FormData with a file"), fdForm, fdOut)
	return c
}

// checked turns a non-2xx answer into an error, for examples that only
// want a success.
func checked(resp *xhr.Response, err error) error {
	if err != nil {
		return err
	}
	if !resp.OK() {
		return &httpStatusError{resp.Status, resp.StatusText}
	}
	return nil
}

type httpStatusError struct {
	code int
	text string
}

func (e *httpStatusError) Error() string {
	return "the server answered " + strconv.Itoa(e.code) + " " + e.text
}

// multipartParts lists the parts of a multipart body: field names, and
// file names with their sizes.
func multipartParts(body string) string {
	var parts []string
	for _, p := range strings.Split(body, "Content-Disposition: form-data; ")[1:] {
		head, rest, _ := strings.Cut(p, "\r\n\r\n")
		name := between(head, `name="`, `"`)
		if fn := between(head, `filename="`, `"`); fn != "" {
			size := strings.LastIndex(rest, "\r\n--")
			if size < 0 {
				size = len(rest)
			}
			parts = append(parts, "file "+strconv.Quote(fn)+" ("+bytesText(int64(size))+") as "+strconv.Quote(name))
			continue
		}
		value, _, _ := strings.Cut(rest, "\r\n")
		parts = append(parts, "field "+name+"="+strconv.Quote(value))
	}
	if len(parts) == 0 {
		return "no parts"
	}
	return strings.Join(parts, " and ")
}

func between(s, open, close string) string {
	_, after, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, close)
	return v
}
