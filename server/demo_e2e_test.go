//go:build !js

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The demo page, driven as a user would: one TestE2E<Section> per section.
// Each opens the page, works the section's controls, waits for the visible
// result and saves a screenshot of the section to $COMET_ARTIFACTS.

// open loads the page and waits for Go to run.
func (e *e2e) open() {
	e.t.Helper()
	e.do(chromedp.Navigate(e.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#app-ready")))
}

// waitText waits until the element matched by sel contains want.
func (e *e2e) waitText(sel, want string) {
	e.t.Helper()
	js := "(() => { const el = document.querySelector(" + jsString(sel) + "); return !!el && el.textContent.includes(" + jsString(want) + "); })()"
	if _, err := chromedp.Run(e.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		got, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string]("(document.querySelector("+jsString(sel)+")||{}).textContent||''"))
		e.sectionShot("failed-" + strings.Trim(sel, "#. "))
		e.t.Fatalf("waiting for %q in %s: %v; it shows %q", want, sel, err, got)
	}
}

// text returns the visible text of sel.
func (e *e2e) text(sel string) string {
	e.t.Helper()
	s, err := chromedp.Run(e.ctx, chromedp.Text(chromedp.CSS(sel)))
	must(e.t, err)
	return s
}

// noError fails if the section's error box is showing.
func (e *e2e) noError(section string) {
	e.t.Helper()
	msg, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](
		"(() => { const el = document.querySelector('#"+section+"-error'); return el && !el.hidden ? el.textContent : ''; })()"))
	must(e.t, err)
	if msg != "" {
		e.t.Fatalf("section %s shows an error: %s", section, msg)
	}
}

// sectionShot saves a screenshot of the section #name (or, for
// "failed-x", of #x) as section-name.png.
func (e *e2e) sectionShot(name string) {
	e.t.Helper()
	e.shotOf("section-"+name, "#"+strings.TrimPrefix(name, "failed-"))
}

// shotOf saves a screenshot of the element matched by sel as file.png in
// $COMET_ARTIFACTS, or of the whole page if there is no such element.
func (e *e2e) shotOf(file, sel string) {
	e.t.Helper()
	dir := os.Getenv("COMET_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "comet-artifacts")
	}
	must(e.t, os.MkdirAll(dir, 0o755))
	png, err := chromedp.Run(e.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	if err != nil {
		png, err = chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
	}
	must(e.t, err)
	path := filepath.Join(dir, file+".png")
	must(e.t, os.WriteFile(path, png, 0o644))
	e.t.Logf("screenshot: %s", path)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestDemoConfig (host only) checks what the page learns about its origins,
// and that frame.html, the messaging frame, is served with the page policy.
func TestDemoConfig(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, body := get(t, ts.URL+"/demo/config")
	equal(t, "status", resp.StatusCode, 200)
	var cfg struct{ PageOrigin, SecondOrigin string }
	must(t, json.Unmarshal(body, &cfg))
	equal(t, "pageOrigin", cfg.PageOrigin, ts.URL)
	equal(t, "secondOrigin", cfg.SecondOrigin, ts.URL2)
	resp, body = get(t, ts.URL2+"/frame.html")
	equal(t, "frame status", resp.StatusCode, 200)
	if !strings.Contains(string(body), `<body class="frame">`) {
		t.Errorf("frame.html lacks its body class: %.200s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	var ancestors string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "frame-ancestors" {
			ancestors = d
		}
	}
	if !strings.Contains(ancestors, ts.URL) {
		t.Errorf("frame.html may not be framed by the page %s: CSP %q", ts.URL, csp)
	}
}

func TestE2EMessaging(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	// The frame on the second origin loads its own copy of the program and
	// says "ready"; only then is Send enabled.
	e.do(chromedp.WaitEnabled(chromedp.CSS("#msg-send")))
	e.waitText("#messaging-status", "Frame ready on "+e.URL2)
	e.do(
		chromedp.SetValue(chromedp.CSS("#msg-text"), "hello from the e2e test"),
		chromedp.Click(chromedp.CSS("#msg-send")),
	)
	e.waitText("#msg-log", "← from "+e.URL2+": echo: hello from the e2e test")
	e.do(chromedp.Click(chromedp.CSS("#msg-forge")))
	e.waitText("#msg-log", "✕ rejected a message claiming to be from "+e.URL2)
	e.waitText("#msg-counts", "rejected 1")
	if got := e.text("#msg-counts"); got != "Delivered 2 · rejected 1" {
		t.Fatalf("counts %q, want ready + echo delivered and the forgery rejected", got)
	}
	e.noError("messaging")
	e.sectionShot("messaging")
}

// TestE2ELayout checks the page at a phone's width: nothing scrolls
// sideways, and a focused control shows a visible outline.
func TestE2ELayout(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.do(chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile))
	e.open()
	e.do(chromedp.WaitEnabled(chromedp.CSS("#msg-send")))
	width, err := chromedp.Run(e.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	must(t, err)
	if width > 375 {
		t.Errorf("page is %d px wide at a 375 px viewport: something overflows", width)
	}
	// Keyboard focus: Tab from the top reaches the first nav link, which
	// shows the focus outline.
	e.do(chromedp.KeyEvent(kb.Tab))
	focus, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](
		"(() => { const a = document.activeElement; return a.textContent + '|' + getComputedStyle(a).outlineStyle; })()"))
	must(t, err)
	if name, outline, _ := strings.Cut(focus, "|"); name != "Ajax lab" || outline == "none" {
		t.Errorf("after Tab, focus is on %q with outline-style %q; want the first nav link, outlined", name, outline)
	}
	e.screenshot("layout-375")
	for _, id := range []string{"ajax", "race", "chat"} {
		e.shotOf("mobile-"+id, "#"+id)
	}
}

// selectOption picks option value in the <select> sel and fires "change",
// as a user's choice does.
func (e *e2e) selectOption(sel, value string) {
	e.t.Helper()
	js := "(() => { const s = document.querySelector(" + jsString(sel) + "); s.value = " + jsString(value) +
		"; s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; })()"
	got, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](js))
	must(e.t, err)
	if got != value {
		e.t.Fatalf("%s has no option %q", sel, value)
	}
}

func TestE2EAjax(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	// 1. The default preset: a JSON POST to the echo endpoint.
	e.do(chromedp.Click(chromedp.CSS("#ajax-send")))
	e.waitText("#ajax-result", "200 OK")
	e.waitText("#ajax-timeline", "4 DONE")
	timeline := e.text("#ajax-timeline")
	for _, want := range []string{"0 UNSENT", "1 OPENED", "2 HEADERS_RECEIVED", "3 LOADING", "4 DONE"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline %q lacks %q", timeline, want)
		}
	}
	body := e.text("#ajax-body-out")
	if !strings.Contains(body, `"method": "POST"`) || !strings.Contains(body, `\"hello\": \"comet\"`) {
		t.Errorf("echo body not shown pretty-printed: %q", body)
	}
	// 2. A slow 2 MB download: the bar reaches 100 %.
	e.selectOption("#ajax-preset", "1")
	e.do(chromedp.Click(chromedp.CSS("#ajax-send")))
	e.waitText("#ajax-result", "200 OK · 2.0 MB")
	e.waitText("#ajax-down-text", "100 % · 2.0 MB of 2.0 MB")
	// 3. A 1 MB upload: the upload bar reaches 100 %.
	e.selectOption("#ajax-preset", "2")
	e.do(chromedp.Click(chromedp.CSS("#ajax-send")))
	e.waitText("#ajax-result", "200 OK")
	e.waitText("#ajax-up-text", "100 % · 976.6 KB of 976.6 KB")
	e.waitText("#ajax-body-out", `"size": 1000000`)
	e.noError("ajax")
	e.sectionShot("ajax")
	// 4. A timeout is shown in plain words.
	e.selectOption("#ajax-preset", "5")
	e.do(chromedp.Click(chromedp.CSS("#ajax-send")))
	e.waitText("#ajax-error", "Timed out")
	// 5. Abort while a very slow download runs (about 6 s).
	e.selectOption("#ajax-preset", "1")
	e.do(
		chromedp.SetValue(chromedp.CSS("#ajax-url"), "/xhr/bytes?n=2097152&chunk=16384&interval=50"),
		chromedp.Click(chromedp.CSS("#ajax-send")),
	)
	e.waitText("#ajax-timeline", "3 LOADING")
	e.do(chromedp.Click(chromedp.CSS("#ajax-abort")))
	e.waitText("#ajax-error", "Aborted")
	// 6. Errors in plain words: a header the browser owns, and a refused
	// cross-origin request.
	e.selectOption("#ajax-preset", "0")
	e.do(
		chromedp.SetValue(chromedp.CSS("#ajax-headers"), "Cookie: session=1"),
		chromedp.Click(chromedp.CSS("#ajax-send")),
	)
	e.waitText("#ajax-error", `does not let a page set the header "Cookie"`)
	e.do(
		chromedp.SetValue(chromedp.CSS("#ajax-headers"), "X-Requested-With: comet"),
		chromedp.SetValue(chromedp.CSS("#ajax-url"), e.URL2+"/cors/denied"),
		chromedp.Click(chromedp.CSS("#ajax-send")),
	)
	e.waitText("#ajax-error", "No answer the page may read (status 0)")
}

func TestE2ESeeds(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	e.do(chromedp.Click(chromedp.CSS("#seed-change")))
	e.waitText("#seed-text", "Hello, Ajax!")
	for _, m := range []string{"get", "post", "put", "delete"} {
		e.do(chromedp.Click(chromedp.CSS("#seed-" + m)))
		e.waitText("#seed-method", m)
		e.waitText("#seed-des", strings.ToUpper(m))
	}
	e.do(chromedp.Click(chromedp.CSS("#seed-slow")))
	e.waitText("#seed-state", "loading…")
	e.waitText("#seed-state", "loaded after")
	e.waitText("#seed-delayed", "after a delay")
	e.do(
		chromedp.SetValue(chromedp.CSS("#seed-id"), "abcd"),
		chromedp.SetValue(chromedp.CSS("#seed-content"), "이것은 컨텐츠"),
		chromedp.Click(chromedp.CSS("#seed-json-send")),
	)
	e.waitText("#seed-echo", "id: abcd · content: 이것은 컨텐츠")
	file := filepath.Join(t.TempDir(), "photo.txt")
	must(t, os.WriteFile(file, []byte(strings.Repeat("pixels ", 300)), 0o644))
	e.do(
		chromedp.SetUploadFiles(chromedp.CSS("#seed-file"), []string{file}),
		chromedp.Click(chromedp.CSS("#seed-fd-send")),
	)
	e.waitText("#seed-fd-out", `file "photo.txt" (2.1 KB) as "file"`)
	e.waitText("#seed-fd-out", `field note="holiday photo"`)
	e.noError("seeds")
	e.sectionShot("seeds")
}

func TestE2ECORS(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	e.do(chromedp.Click(chromedp.CSS("#cors-all")))
	e.waitText("#cors-status", "All four cases ran.")
	for id, want := range map[string]string{
		"allowed":   "Delivered: HTTP 200",
		"denied":    "Blocked, status 0",
		"preflight": `the server saw PUT with token "secret-42"`,
		"creds":     "the browser sent the second origin's cookie",
	} {
		got := e.text("#cors-" + id + "-out")
		if !strings.Contains(got, want) {
			t.Errorf("case %s shows %q, want %q", id, got, want)
		}
	}
	e.noError("cors")
	e.sectionShot("cors")
}

// TestE2EChat: the chat on sessions in Chromium, with tokens: two pages,
// two users; join and leave shown from presence, a room line seen once by
// both, a private line seen only by its recipient, a disconnect that
// brings back what was missed once, and reloads that keep the history
// without duplicates.
func TestE2EChat(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	key := filepath.Join(t.TempDir(), "key")
	must(t, os.WriteFile(key, []byte("0123456789abcdef0123456789abcdef\n"), 0o600))
	alice := newE2EWith(t, func(c *config) { c.TokenSecretFile = key })
	tab, cancel := chromedp.NewContext(alice.ctx) // a second page of the same browser
	defer cancel()
	bob := &e2e{testServer: alice.testServer, ctx: tab, t: t}
	connect := func(e *e2e, name string) {
		e.t.Helper()
		e.open()
		e.do(
			chromedp.SetValue(chromedp.CSS("#chat-name"), name),
			chromedp.SetValue(chromedp.CSS("#chat-room"), "lobby"),
			chromedp.Click(chromedp.CSS("#chat-connect")),
		)
		e.waitText("#chat-conn", "Connected as "+name+" over ws")
	}
	say := func(e *e2e, to, user, text string) {
		e.t.Helper()
		e.selectOption("#chat-to", to)
		if user != "" {
			e.do(chromedp.SetValue(chromedp.CSS("#chat-user"), user))
		}
		e.do(
			chromedp.SetValue(chromedp.CSS("#chat-msg"), text),
			chromedp.Click(chromedp.CSS("#chat-send")),
		)
	}
	once := func(e *e2e, who, line string) {
		e.t.Helper()
		e.waitText("#chat-log", line)
		if n := strings.Count(e.text("#chat-log"), line); n != 1 {
			t.Errorf("%s's log shows %q %d times, want once:\n%s", who, line, n, e.text("#chat-log"))
		}
	}
	connect(alice, "alice")
	alice.waitText("#chat-presence", "lobby: alice")
	connect(bob, "bob")
	alice.waitText("#chat-log", "bob joined #lobby")
	alice.waitText("#chat-presence", "lobby: alice, bob")
	bob.waitText("#chat-presence", "lobby: alice, bob")

	say(alice, "room", "", "안녕하세요, comet")
	once(bob, "bob", "#lobby alice: 안녕하세요, comet")
	once(alice, "alice", "#lobby alice: 안녕하세요, comet")

	say(alice, "user", "bob", "just for bob")
	once(bob, "bob", "[private] alice → you: just for bob")
	alice.waitText("#chat-log", "[private] you → bob: just for bob")
	say(bob, "room", "", "bob was here")
	once(alice, "alice", "#lobby bob: bob was here") // after the private line: it had its chance
	if strings.Contains(alice.text("#chat-log"), "alice → you") {
		t.Errorf("alice's page shows the private line meant for bob:\n%s", alice.text("#chat-log"))
	}

	// "to others" reaches the room but its sender; "to self" the sender only.
	say(bob, "others", "", "psst, others")
	say(bob, "self", "", "remember the milk")
	once(bob, "bob", "[self] note: remember the milk")
	once(alice, "alice", "#lobby bob (to others): psst, others")
	say(bob, "room", "", "after the others") // bob's own room lines come back in order: the "others" one was skipped
	once(bob, "bob", "#lobby bob: after the others")
	once(alice, "alice", "#lobby bob: after the others")
	if strings.Contains(bob.text("#chat-log"), "psst, others") || strings.Contains(alice.text("#chat-log"), "remember the milk") {
		t.Errorf("a line shown where it was not meant to be:\nalice:\n%s\nbob:\n%s", alice.text("#chat-log"), bob.text("#chat-log"))
	}

	// A second room on the same session.
	alice.do(
		chromedp.SetValue(chromedp.CSS("#chat-room"), "games"),
		chromedp.Click(chromedp.CSS("#chat-join")),
	)
	alice.waitText("#chat-presence", "games: alice")
	alice.do(chromedp.SetValue(chromedp.CSS("#chat-room"), "lobby"))

	// alice closes her session (forceDisconnect); a friend writes twice;
	// her new session resumes every room from her cursors.
	alice.do(chromedp.Click(chromedp.CSS("#chat-drop")))
	alice.waitText("#chat-log", "— disconnected: this page closed its session —")
	bob.waitText("#chat-log", "alice left #lobby")
	alice.waitText("#chat-log", "↺ recovered 2 message(s) in #lobby")
	once(alice, "alice", "#lobby friend: and this (2/2)")
	once(alice, "alice", "you missed this (1/2)")
	alice.waitText("#chat-conn", "Connected as alice over ws")
	alice.waitText("#chat-presence", "games: alice · lobby: alice, bob")
	bob.waitText("#chat-log", "alice joined #lobby")

	// bob leaves the room: alice sees it.
	bob.do(chromedp.Click(chromedp.CSS("#chat-leave")))
	alice.waitText("#chat-log", "bob left #lobby")
	alice.noError("chat")
	bob.noError("chat")
	alice.sectionShot("chat")

	// Reloads: the room's history and bob's private line come back once.
	connect(alice, "alice")
	once(alice, "alice", "#lobby alice: 안녕하세요, comet")
	once(alice, "alice", "you missed this (1/2)")
	once(alice, "alice", "#lobby bob: bob was here")
	connect(bob, "bob")
	once(bob, "bob", "[private] alice → you: just for bob")
	once(bob, "bob", "#lobby friend: and this (2/2)")
	alice.noError("chat")
	bob.noError("chat")
}

// TestE2EChatOpen: without tokens the chat works with claimed names, on
// each fallback transport alone too (the polls carry no presence, and the
// page says so), and in auto mode when WebSocket, SSE and streaming are
// refused (it falls back to long polling and goes on without presence).
func TestE2EChatOpen(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{"sse", "stream", "longpoll", "poll", "auto"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t)
			if tr == "auto" {
				for _, blocked := range []string{"ws", "sse", "stream"} {
					resp, body := postJSON(t, e.URL+"/test/realtime/block", `{"transport":"`+blocked+`","ms":60000}`)
					equal(t, "block "+blocked+" "+string(body), resp.StatusCode, 200)
				}
				tr = "longpoll"
			}
			e.open()
			e.waitText("#chat-status", "Tokens are off")
			if t.Name() != "TestE2EChatOpen/auto" {
				e.selectOption("#chat-transport", tr)
			}
			e.do(
				chromedp.SetValue(chromedp.CSS("#chat-name"), "kgh"),
				chromedp.Click(chromedp.CSS("#chat-connect")),
			)
			e.waitText("#chat-conn", "Connected as kgh over "+tr)
			if tr == "longpoll" || tr == "poll" {
				e.waitText("#chat-log", "#lobby: who is here needs ws, sse or stream")
			} else {
				e.waitText("#chat-presence", "lobby: guest-")
			}
			e.do(
				chromedp.SetValue(chromedp.CSS("#chat-msg"), "hi over "+tr),
				chromedp.Click(chromedp.CSS("#chat-send")),
			)
			e.waitText("#chat-log", "#lobby kgh (unverified): hi over "+tr)
			e.noError("chat")
		})
	}
}

func TestE2ECountdown(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	e.selectOption("#cd-speed", "200")
	e.do(chromedp.Click(chromedp.CSS("#cd-start")))
	e.waitText("#cd-state", "Connected")
	e.waitJS("the count at 5 or below", "+document.querySelector('#cd-data').textContent <= 5")
	e.sectionShot("countdown")
	e.waitText("#countdown-status", "got 204 No Content")
	e.waitText("#cd-state", "Disconnected")
	equal(t, "last count", e.text("#cd-data"), "0")
	equal(t, "id", e.text("#cd-id"), "kgh")
	log := e.text("#cd-log")
	for _, want := range []string{"CONNECTING", "OPEN", `data={"id":"kgh","cnt":10}`, `data={"id":"kgh","cnt":0}`, "CLOSED"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	e.noError("countdown")
}

func TestE2ERace(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	e.do(chromedp.SetValue(chromedp.CSS("#race-count"), "60"))
	e.selectOption("#race-rate", "20")
	e.do(chromedp.Click(chromedp.CSS("#race-start")))
	// Drop mid-race, once a few messages are through.
	e.waitJS("10 messages published", `+((document.querySelector('#race-totals').textContent.match(/Published (\d+)/) || [0, 0])[1]) >= 10`)
	e.do(chromedp.Click(chromedp.CSS("#race-drop")))
	e.waitText("#race-status", "Dropped every connection")
	e.waitText("#race-status", "Finished")
	e.waitText("#race-status", "delivered all 60 messages exactly once")
	equal(t, "totals", e.text("#race-totals"), "Published 60 · lost 0 · duplicated 0")
	for _, lane := range []string{"poll", "longpoll", "stream", "sse", "ws"} {
		row := e.text("#race-" + lane)
		if !strings.Contains(row, "60 / 60") {
			t.Errorf("lane %s: %q, want 60 / 60 received", lane, row)
		}
	}
	// Every streaming lane reconnected after the drop.
	for _, lane := range []string{"stream", "sse", "ws"} {
		reqs := e.text("#race-" + lane + " td[data-k=reqs]")
		if reqs == "1" {
			t.Errorf("lane %s made %s request(s): the drop did not reconnect it", lane, reqs)
		}
	}
	e.noError("race")
	e.sectionShot("race")
}

func TestE2EJSONP(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	e.do(chromedp.Click(chromedp.CSS("#jsonp-all")))
	e.waitText("#jsonp-status", "All cases ran.")
	for id, want := range map[string]string{
		"ok":     `The callback ran with {ok: true, msg: "hello from Go"}`,
		"slow":   "no callback within the 1 s timeout",
		"silent": "Failed:",
		"img":    "the server counted 1 hit",
		"beacon": `the server received "page state at`,
	} {
		got := e.text("#jsonp-" + id + "-out")
		if !strings.Contains(got, want) {
			t.Errorf("case %s shows %q, want %q", id, got, want)
		}
	}
	if got := e.text("#jsonp-ok-out"); !strings.Contains(got, "(0 JSONP scripts left in the page)") {
		t.Errorf("JSONP script not removed: %q", got)
	}
	e.noError("jsonp")
	e.sectionShot("jsonp")
}

// waitJS waits until the JavaScript expression is true.
func (e *e2e) waitJS(what, expr string) {
	e.t.Helper()
	if _, err := chromedp.Run(e.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestE2EUpload(t *testing.T) {
	t.Parallel() // each test has its own server and browser
	e := newE2E(t)
	e.open()
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>10)
	}
	file := filepath.Join(t.TempDir(), "holiday.bin")
	must(t, os.WriteFile(file, data, 0o644))
	e.do(chromedp.SetUploadFiles(chromedp.CSS("#up-file"), []string{file}))
	e.waitText("#up-chosen", `Ready: "holiday.bin", 2.0 MB.`)
	e.do(chromedp.Click(chromedp.CSS("#up-start")))
	progress := "document.querySelector('#up-progress-bar').value"
	e.waitJS("20 %", progress+" >= 0.2")
	e.do(chromedp.Click(chromedp.CSS("#up-pause")))
	e.waitText("#upload-status", "Paused.")
	e.do(chromedp.Click(chromedp.CSS("#up-resume")))
	e.waitText("#up-log", "resuming from there")
	e.waitJS("50 %", progress+" >= 0.5")
	e.do(chromedp.Click(chromedp.CSS("#up-drop")))
	e.waitText("#up-log", "connection dropped mid-chunk")
	e.waitText("#upload-status", "Checksum OK")
	e.waitText("#up-progress-text", "100 % · 2.0 MB of 2.0 MB")
	if n := strings.Count(e.text("#up-log"), "resuming from there"); n < 2 {
		t.Errorf("the log shows %d resumes from the server's offset, want 2 (resume and drop)", n)
	}
	e.noError("upload")
	e.sectionShot("upload")
}

// TestE2EDashboard: the dashboard follows the 20 dash topics on one
// connection, first on WebSocket, then on SSE alone.
func TestE2EDashboard(t *testing.T) {
	t.Parallel()
	e := newE2E(t)
	e.open()
	for _, tr := range []string{"auto", "sse"} {
		e.selectOption("#dash-transport", tr)
		e.do(chromedp.Click(chromedp.CSS("#dash-start")))
		want := map[string]string{"auto": "ws", "sse": "sse"}[tr]
		e.waitText("#dash-state", "Transport: "+want+" · connections held: 1")
		// dash:20 gets a reading every 4 s: every tile counts.
		e.waitJS("a reading on every tile", "[...document.querySelectorAll('#dash-grid .big')].every(el => +el.textContent > 0)")
		e.waitText("#dashboard-status", "Live: 20 topics on one "+want+" connection")
		e.sectionShot("dashboard")
		e.noError("dashboard")
		if s := e.text("#dash-state"); !strings.Contains(s, "most at once 1,") {
			t.Errorf("%s: %s", tr, s)
		}
		e.do(chromedp.Click(chromedp.CSS("#dash-stop")))
		e.waitText("#dash-state", "Disconnected.")
	}
}
