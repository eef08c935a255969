//go:build js && wasm

package main

import (
	"strconv"
	"strings"
	"time"

	"honnef.co/go/js/dom/v2"
)

// The page is built from a few small helpers around dom/v2. Every event
// handler made here starts a goroutine before running the caller's func, so
// no handler can block the event loop.

var doc = dom.GetWindow().Document()

// el creates an element with a class and children: strings become text,
// dom.Nodes are appended as they are.
func el(tag, class string, kids ...any) dom.HTMLElement {
	e := doc.CreateElement(tag).(dom.HTMLElement)
	if class != "" {
		e.SetAttribute("class", class)
	}
	add(e, kids...)
	return e
}

func add(parent dom.Node, kids ...any) {
	for _, k := range kids {
		switch k := k.(type) {
		case string:
			parent.AppendChild(doc.CreateTextNode(k))
		case dom.Node:
			parent.AppendChild(k)
		}
	}
}

// onClick runs fn in a new goroutine on every click.
func onClick(e dom.HTMLElement, fn func()) {
	e.AddEventListener("click", false, func(dom.Event) { go fn() })
}

// onEvent runs fn in a new goroutine for each event of type typ.
func onEvent(e dom.EventTarget, typ string, fn func()) {
	e.AddEventListener(typ, false, func(dom.Event) { go fn() })
}

// button returns a <button type=button>; fn runs in a goroutine.
func button(id, text, class string, fn func()) *dom.HTMLButtonElement {
	b := el("button", class, text).(*dom.HTMLButtonElement)
	b.SetType("button")
	if id != "" {
		b.SetID(id)
	}
	if fn != nil {
		onClick(b, fn)
	}
	return b
}

// labelled wraps a control in a <label> with its text, so the label is
// tied to the control without ids.
func labelled(text string, control dom.HTMLElement) dom.HTMLElement {
	return el("label", "", el("span", "", text), control)
}

func input(id, typ, value string) *dom.HTMLInputElement {
	in := doc.CreateElement("input").(*dom.HTMLInputElement)
	in.SetID(id)
	in.SetType(typ)
	in.SetValue(value)
	return in
}

func textarea(id, value string, rows int) *dom.HTMLTextAreaElement {
	t := doc.CreateElement("textarea").(*dom.HTMLTextAreaElement)
	t.SetID(id)
	t.SetValue(value)
	t.SetAttribute("rows", strconv.Itoa(rows))
	return t
}

func selectOf(id string, options ...string) *dom.HTMLSelectElement {
	s := doc.CreateElement("select").(*dom.HTMLSelectElement)
	s.SetID(id)
	for _, o := range options {
		opt := el("option", "", o)
		opt.SetAttribute("value", o)
		s.AppendChild(opt)
	}
	return s
}

func checkbox(id, text string, checked bool) (dom.HTMLElement, *dom.HTMLInputElement) {
	in := input(id, "checkbox", "")
	in.SetChecked(checked)
	return el("label", "check", in, el("span", "", text)), in
}

func withID(e dom.HTMLElement, id string) dom.HTMLElement {
	e.SetID(id)
	return e
}

// card is one section of the page.
type card struct {
	root   dom.HTMLElement
	body   dom.HTMLElement
	status dom.HTMLElement
	errBox dom.HTMLElement
}

// newCard makes a section with a heading, a one-line explanation, a status
// line (announced politely) and an error box (announced at once).
func newCard(id, title, blurb string) *card {
	c := &card{}
	h := el("h2", "", title)
	h.SetID(id + "-title")
	c.root = el("section", "card", h, el("p", "blurb", blurb))
	c.root.SetID(id)
	c.root.SetAttribute("aria-labelledby", id+"-title")
	c.body = el("div", "body")
	c.status = el("p", "status muted")
	c.status.SetID(id + "-status")
	c.status.SetAttribute("role", "status")
	c.status.SetAttribute("aria-live", "polite")
	c.errBox = el("p", "error")
	c.errBox.SetID(id + "-error")
	c.errBox.SetAttribute("role", "alert")
	c.errBox.SetAttribute("hidden", "")
	add(c.root, c.body, c.status, c.errBox)
	return c
}

// say sets the status line; kind is "", "ok", "bad" or "warn".
func (c *card) say(kind, text string) {
	setKind(c.status, "status", kind)
	c.status.SetTextContent(text)
}

// fail shows err in plain words; nil hides the box.
func (c *card) fail(err error) {
	if err == nil {
		c.errBox.SetAttribute("hidden", "")
		c.errBox.SetTextContent("")
		return
	}
	c.errBox.SetTextContent(plain(err))
	c.errBox.RemoveAttribute("hidden")
}

func setKind(e dom.HTMLElement, base, kind string) {
	if kind == "" {
		kind = "muted"
	}
	e.SetAttribute("class", base+" "+kind)
}

// meter is a progress bar with a text line for bytes and rate.
type meter struct {
	root  dom.HTMLElement
	bar   *dom.HTMLProgressElement
	text  dom.HTMLElement
	start time.Time
}

func newMeter(id, label string) *meter {
	m := &meter{}
	m.bar = doc.CreateElement("progress").(*dom.HTMLProgressElement)
	m.bar.SetID(id + "-bar")
	m.bar.SetMax(1)
	m.bar.SetValue(0)
	m.text = el("span", "meter-text", "–")
	m.text.SetID(id + "-text")
	lab := el("label", "meter-label", label)
	lab.SetAttribute("for", id+"-bar")
	m.root = el("div", "meter", lab, m.bar, m.text)
	m.root.SetID(id)
	return m
}

// reset starts a new transfer.
func (m *meter) reset() {
	m.start = time.Now()
	m.bar.SetValue(0)
	m.text.SetTextContent("–")
}

// set shows loaded of total bytes (total ≤ 0 when unknown) and the rate.
func (m *meter) set(loaded, total int64) {
	rate := ""
	if d := time.Since(m.start).Seconds(); d > 0.05 && loaded > 0 {
		rate = " · " + bytesText(int64(float64(loaded)/d)) + "/s"
	}
	if total > 0 {
		frac := float64(loaded) / float64(total)
		m.bar.SetValue(frac)
		m.text.SetTextContent(strconv.Itoa(int(frac*100+0.5)) + " % · " + bytesText(loaded) + " of " + bytesText(total) + rate)
		return
	}
	m.bar.RemoveAttribute("value") // indeterminate
	m.text.SetTextContent(bytesText(loaded) + rate)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// logList is a bounded list of lines, newest last.
type logList struct {
	root dom.HTMLElement
	max  int
}

func newLog(id, label string, max int) *logList {
	l := &logList{root: el("ol", "log"), max: max}
	l.root.SetID(id)
	l.root.SetAttribute("aria-label", label)
	l.root.SetAttribute("tabindex", "0") // scrollable: reachable by keyboard
	return l
}

func (l *logList) add(kind, text string) dom.HTMLElement {
	li := el("li", kind, text)
	l.root.AppendChild(li)
	for l.max > 0 && len(l.root.ChildNodes()) > l.max {
		l.root.RemoveChild(l.root.FirstChild())
	}
	l.root.Underlying().Set("scrollTop", l.root.Underlying().Get("scrollHeight"))
	return li
}

func (l *logList) clear() { l.root.SetTextContent("") }

// stamp formats a duration since start as "+12.3 ms".
func stamp(d time.Duration) string {
	return "+" + strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
}

// plain turns an error into a sentence for the page.
func plain(err error) string {
	msg := err.Error()
	for _, p := range []string{"xhr: ", "sse: ", "ws: ", "upload: ", "message: ", "comet: ", "jsonp: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return "Error: " + msg
}

// onSubmit stops the form's navigation at once (that must happen on the
// event loop) and runs fn in a new goroutine.
func onSubmit(form dom.HTMLElement, fn func()) {
	form.AddEventListener("submit", false, func(ev dom.Event) {
		ev.PreventDefault()
		go fn()
	})
}

func withClass(e dom.HTMLElement, class string) dom.HTMLElement {
	e.SetAttribute("class", class)
	return e
}

// submitButton returns a <button type=submit> for a form.
func submitButton(id, text string) dom.HTMLElement {
	b := el("button", "", text).(*dom.HTMLButtonElement)
	b.SetType("submit")
	b.SetID(id)
	return b
}

func withOpen(e dom.HTMLElement) dom.HTMLElement {
	e.SetAttribute("open", "")
	return e
}
