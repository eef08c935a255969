//go:build js && wasm

package jsutil_test

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
	"github.com/cometwasm/comet/wasm/internal/testenv"
)

// got is one event as a batch delivered it.
type got struct {
	data, id string
	dataOK   bool
	num      float64
	numOK    bool
	flag     bool
	flagOK   bool
	binary   []byte
}

// recorder collects batches from OnBatch.
type recorder struct {
	mu      sync.Mutex
	batches [][]got
	sig     jsutil.Signal
}

func (r *recorder) onBatch(it *jsutil.Items) {
	var b []got
	for i := 0; i < it.Len(); i++ {
		var g got
		g.data, g.dataOK = it.String(i, 0)
		g.id, _ = it.String(i, 1)
		g.num, g.numOK = it.Float(i, 2)
		g.flag, g.flagOK = it.Bool(i, 3)
		if !g.dataOK {
			if d := it.Value(i, 0); d.Type() == js.TypeObject {
				g.binary, _ = jsutil.BytesToGo(d)
			}
		}
		b = append(b, g)
	}
	r.mu.Lock()
	r.batches = append(r.batches, b)
	r.mu.Unlock()
	r.sig.Notify()
}

// count returns how many batches and events arrived so far.
func (r *recorder) count() (batches, events int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		events += len(b)
	}
	return len(r.batches), events
}

func (r *recorder) wait(t *testing.T, events int) [][]got {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		n := 0
		for _, b := range r.batches {
			n += len(b)
		}
		out := r.batches
		r.mu.Unlock()
		if n >= events {
			return out
		}
		select {
		case <-r.sig:
		case <-deadline:
			t.Fatalf("%d of %d events arrived", n, events)
		}
	}
}

// event makes an event of type typ whose data, lastEventId, n and flag
// are own properties (MessageEvent's are prototype getters; both work).
func event(typ string, data any, id string, extra map[string]any) js.Value {
	if me, ok := jsutil.Global("MessageEvent"); ok && extra == nil {
		init := js.Global().Get("Object").New()
		init.Set("data", data)
		init.Set("lastEventId", id)
		return me.New(typ, init)
	}
	ev := js.Global().Get("Event").New(typ)
	define := js.Global().Get("Object").Get("defineProperty")
	prop := func(name string, v any) {
		d := js.Global().Get("Object").New()
		d.Set("value", v)
		define.Invoke(ev, name, d)
	}
	prop("data", data)
	prop("lastEventId", id)
	for k, v := range extra {
		prop(k, v)
	}
	return ev
}

func TestBatchDecodesFields(t *testing.T) {
	eachHelper(t, testBatchDecodesFields)
}

func testBatchDecodesFields(t *testing.T, helper bool) {
	base := testenv.MeasureRefs()
	target := js.Global().Get("EventTarget").New()
	r := &recorder{sig: jsutil.NewSignal()}
	b := jsutil.NewBatch(target, jsutil.BatchOptions{
		Events:  []string{"m", "other"},
		Keys:    []string{"data", "lastEventId", "n", "flag"},
		OnBatch: r.onBatch,
	})
	texts := []string{"", "plain", `quote " and \ backslash`, "new\nline\r\ttab\b\f", "\x01\x1f ctl", "é ünï 中文 😀", "</script>"}
	for i, s := range texts {
		target.Call("dispatchEvent", event("m", s, string(rune('a'+i)), nil))
	}
	target.Call("dispatchEvent", event("m", js.Global().Get("String").Call("fromCharCode", 0xD800, 'x'), "lone", nil))
	target.Call("dispatchEvent", event("other", "x", "", map[string]any{"n": 12.5, "flag": true}))
	target.Call("dispatchEvent", event("other", "y", "", map[string]any{"n": -1e300, "flag": false}))
	target.Call("dispatchEvent", event("m", jsutil.BytesToJS([]byte{0, 1, 2, 255}).Get("buffer"), "bin", nil))
	target.Call("dispatchEvent", event("ignored", "never", "", nil))
	want := len(texts) + 4
	batches := r.wait(t, want)
	// The first event wakes Go at once; with the helper the rest,
	// dispatched from this goroutine without yielding (its task cannot
	// run in between), form one batch; without it each is its own.
	if sizes := batchSizes(batches); helper && (len(sizes) != 2 || sizes[0] != 1) {
		t.Errorf("batches of %v events, want [1 %d]: events were not batched", sizes, want-1)
	} else if !helper && len(sizes) != want {
		t.Errorf("batches of %v events, want %d batches of one", sizes, want)
	}
	var all []got
	for _, b := range batches {
		all = append(all, b...)
	}
	for i, s := range texts {
		if g := all[i]; !g.dataOK || g.data != s || g.id != string(rune('a'+i)) || g.numOK || g.flagOK {
			t.Errorf("event %d = %+v, want data %q id %q and no n or flag", i, g, s, string(rune('a'+i)))
		}
	}
	if g := all[len(texts)]; g.data != "\uFFFDx" {
		t.Errorf("lone surrogate decoded as %q, want \"\\uFFFDx\" (what TextEncoder makes of it)", g.data)
	}
	if g := all[len(texts)+1]; g.data != "x" || !g.numOK || g.num != 12.5 || !g.flagOK || !g.flag {
		t.Errorf("other event = %+v, want n 12.5 and flag true", g)
	}
	if g := all[len(texts)+2]; g.data != "y" || !g.numOK || g.num != -1e300 || !g.flagOK || g.flag {
		t.Errorf("other event = %+v, want n -1e300 and flag false", g)
	}
	if g := all[len(texts)+3]; g.dataOK || !bytes.Equal(g.binary, []byte{0, 1, 2, 255}) || g.id != "bin" {
		t.Errorf("binary event = %+v, want no string data and the 4 bytes via Event", g)
	}
	b.Release()
	b.Release()
	testenv.CheckRefs(t, base, 5)
}

func batchSizes(b [][]got) []int {
	var n []int
	for _, x := range b {
		n = append(n, len(x))
	}
	return n
}

func TestBatchOrderFlushRelease(t *testing.T) {
	for _, deferAll := range []bool{false, true} {
		t.Run("Defer="+strconv.FormatBool(deferAll), func(t *testing.T) {
			eachHelper(t, func(t *testing.T, helper bool) { testBatchOrder(t, helper, deferAll) })
		})
	}
}

func testBatchOrder(t *testing.T, helper, deferAll bool) {
	base := testenv.MeasureRefs()
	target := js.Global().Get("EventTarget").New()
	r := &recorder{sig: jsutil.NewSignal()}
	b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data"}, OnBatch: r.onBatch, Defer: deferAll})
	const rounds, per = 20, 50
	n := 0
	for round := 0; round < rounds; round++ {
		for i := 0; i < per; i++ {
			target.Call("dispatchEvent", event("m", string(rune('0'+n%10))+"#", "", nil))
			n++
		}
		if round%3 == 0 {
			b.Flush() // a close listener's drain: in order with the timer's
		}
		if round%2 == 0 {
			time.Sleep(time.Millisecond) // lets the wake timer run
		}
	}
	batches := r.wait(t, n)
	k := 0
	for _, batch := range batches {
		for _, g := range batch {
			if want := string(rune('0'+k%10)) + "#"; g.data != want {
				t.Fatalf("event %d = %q, want %q: out of order", k, g.data, want)
			}
			k++
		}
	}
	if k != n || helper && len(batches) >= n || !helper && len(batches) != n {
		t.Fatalf("%d events in %d batches, want %d (in fewer batches with the helper)", k, len(batches), n)
	}
	// An event whose wake task is still pending when Release runs: it is
	// delivered by Release (without the helper, at once), and the task
	// then wakes nobody.
	target.Call("dispatchEvent", event("m", "last", "", nil))
	b.Release()
	if got := r.wait(t, n+1); got[len(got)-1][0].data != "last" {
		t.Fatalf("last batch %+v, want the event Release drained", got[len(got)-1])
	}
	target.Call("dispatchEvent", event("m", "after", "", nil))
	time.Sleep(30 * time.Millisecond)
	_, total := r.count()
	if total != n+1 {
		t.Fatalf("%d events after Release, want %d", total, n+1)
	}
	testenv.CheckRefs(t, base, 5)
}

// TestBatchLoneAndBursts alternates lone events with a pause after each
// (a ping-pong) and bursts dispatched at once, with the helper script and
// without it. Every event arrives once, in order, and nothing leaks.
func TestBatchLoneAndBursts(t *testing.T) {
	eachHelper(t, func(t *testing.T, _ bool) { testBatchLoneAndBursts(t) })
}

func testBatchLoneAndBursts(t *testing.T) {
	base := testenv.MeasureRefs()
	funcs := jsutil.LiveFuncs()
	target := js.Global().Get("EventTarget").New()
	r := &recorder{sig: jsutil.NewSignal()}
	b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data"}, OnBatch: r.onBatch})
	n := 0
	send := func() {
		target.Call("dispatchEvent", event("m", strconv.Itoa(n), "", nil))
		n++
	}
	for _, phase := range []struct{ lone, burst int }{{40, 30}, {300, 100}, {5, 1}, {300, 64}, {50, 0}} {
		for i := 0; i < phase.lone; i++ {
			send()
			r.wait(t, n)
			time.Sleep(time.Millisecond) // lets a posted task run and find nothing, as between a ping and its pong
		}
		for i := 0; i < phase.burst; i++ {
			send()
		}
		r.wait(t, n)
	}
	k := 0
	for _, batch := range r.wait(t, n) {
		for _, g := range batch {
			if g.data != strconv.Itoa(k) {
				t.Fatalf("event %d = %q: out of order or lost", k, g.data)
			}
			k++
		}
	}
	if k != n {
		t.Fatalf("%d events delivered, want %d", k, n)
	}
	b.Release()
	send()
	time.Sleep(30 * time.Millisecond)
	if got := len(r.wait(t, n-1)); got == 0 {
		t.Fatal("no batches")
	}
	r.mu.Lock()
	total := 0
	for _, bt := range r.batches {
		total += len(bt)
	}
	r.mu.Unlock()
	if total != n-1 {
		t.Fatalf("%d events after Release, want %d", total, n-1)
	}
	if live := jsutil.LiveFuncs(); live != funcs {
		t.Fatalf("LiveFuncs %d after Release, want %d", live, funcs)
	}
	testenv.CheckRefs(t, base, 5)
}

// eachHelper runs f as two subtests: with the page's helper script
// (comet_batch.js), and with it removed, so batches take the fallback
// path. Not for parallel tests.
func eachHelper(t *testing.T, f func(t *testing.T, helper bool)) {
	for _, helper := range []bool{true, false} {
		t.Run("helper="+strconv.FormatBool(helper), func(t *testing.T) {
			if !helper {
				defer testenv.RemoveHelper()()
			}
			f(t, helper)
		})
	}
}

// TestBatchHelperScript delivers SSE-like events (strings only) through
// the helper script's queue and, with the script removed, through the
// per-event fallback: the same strings, byte for byte, in order, with no
// event lost, and nothing leaked either way.
func TestBatchHelperScript(t *testing.T) {
	if h := js.Global().Get("cometBatch"); h.Type() != js.TypeObject {
		t.Fatal("globalThis.cometBatch is missing: the harness must load public/comet_batch.js")
	}
	fromCodes := func(codes ...any) js.Value { return js.Global().Get("String").Get("fromCharCode").Invoke(codes...) }
	type pair struct {
		data, id js.Value
		want     [2]string
	}
	cases := []pair{
		{js.ValueOf(""), js.ValueOf(""), [2]string{"", ""}},
		{js.ValueOf(`{"n":1,"s":"q\"x"}`), js.ValueOf("7"), [2]string{`{"n":1,"s":"q\"x"}`, "7"}},
		{js.ValueOf("안녕하세요, 세계"), js.ValueOf("한"), [2]string{"안녕하세요, 세계", "한"}},
		{js.ValueOf("emoji 😀👍🏽 end"), js.ValueOf("🎉"), [2]string{"emoji 😀👍🏽 end", "🎉"}},
		{js.ValueOf("12:34-5:"), js.ValueOf("-"), [2]string{"12:34-5:", "-"}}, // looks like the framing
		// A lone high surrogate ending one field and a lone low one
		// starting the next must not pair up across the framing.
		{fromCodes('a', 0xD83D), fromCodes(0xDE00, 'b'), [2]string{"a\uFFFD", "\uFFFDb"}},
		{fromCodes(0xDC00, 0xD800), js.ValueOf("x"), [2]string{"\uFFFD\uFFFD", "x"}},
		{js.ValueOf("new\nline\r\ttab\x00nul"), js.ValueOf(""), [2]string{"new\nline\r\ttab\x00nul", ""}},
	}
	eachHelper(t, func(t *testing.T, helper bool) {
		base := testenv.MeasureRefs()
		target := js.Global().Get("EventTarget").New()
		r := &recorder{sig: jsutil.NewSignal()}
		b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m", "x"}, Keys: []string{"data", "lastEventId"}, OnBatch: r.onBatch, Defer: true})
		if b.UsesHelper() != helper {
			t.Fatalf("UsesHelper() = %v, want %v", b.UsesHelper(), helper)
		}
		const rounds = 30
		n := 0
		for round := 0; round < rounds; round++ {
			for _, c := range cases {
				me, _ := jsutil.Global("MessageEvent")
				init := js.Global().Get("Object").New()
				init.Set("data", c.data)
				init.Set("lastEventId", c.id)
				typ := "m"
				if n%7 == 3 {
					typ = "x"
				}
				target.Call("dispatchEvent", me.New(typ, init))
				n++
			}
			if round%4 == 1 {
				b.Flush()
			}
			if round%3 == 0 {
				time.Sleep(time.Millisecond) // lets the wake task run
			}
		}
		// A number is no string; an object (a WebSocket's
		// ArrayBuffer) comes through Value.
		target.Call("dispatchEvent", event("m", 42, "num", nil))
		target.Call("dispatchEvent", event("m", jsutil.BytesToJS([]byte{0, 1, 2, 255}).Get("buffer"), "bin", nil))
		n += 2
		batches := r.wait(t, n)
		k := 0
		for _, batch := range batches {
			for _, g := range batch {
				if k == n-2 {
					if g.id != "num" || g.dataOK {
						t.Errorf("number event = %+v, want id num and no string data", g)
					}
					k++
					continue
				}
				if k == n-1 {
					if g.id != "bin" || g.dataOK || !bytes.Equal(g.binary, []byte{0, 1, 2, 255}) {
						t.Errorf("binary event = %+v, want id bin and the 4 bytes via Value", g)
					}
					k++
					continue
				}
				c := cases[k%len(cases)]
				if !g.dataOK || g.data != c.want[0] || g.id != c.want[1] {
					t.Fatalf("event %d = data %q id %q, want %q %q", k, g.data, g.id, c.want[0], c.want[1])
				}
				k++
			}
		}
		if k != n || helper && len(batches) >= n/2 || !helper && len(batches) != n {
			t.Fatalf("%d events in %d batches, want %d (in fewer than %d with the helper, one each without)", k, len(batches), n, n/2)
		}
		target.Call("dispatchEvent", event("m", "last", "", nil))
		b.Release()
		b.Release()
		if got := r.wait(t, n+1); got[len(got)-1][len(got[len(got)-1])-1].data != "last" {
			t.Fatal("Release did not drain the last event")
		}
		target.Call("dispatchEvent", event("m", "after", "", nil))
		time.Sleep(20 * time.Millisecond)
		_, total := r.count()
		if total != n+1 {
			t.Fatalf("%d events after Release, want %d", total, n+1)
		}
		testenv.CheckRefs(t, base, 5)
	})
}

// TestBatchFirstEventAtOnce: with the helper script and without Defer
// the first event after a quiet spell reaches OnBatch inside its own
// dispatch, and the events dispatched behind it in the same task wait
// for one batch; with Defer the first waits too. Without the script
// every event reaches OnBatch inside its own dispatch.
func TestBatchFirstEventAtOnce(t *testing.T) {
	for _, deferAll := range []bool{false, true} {
		t.Run("Defer="+strconv.FormatBool(deferAll), func(t *testing.T) {
			eachHelper(t, func(t *testing.T, helper bool) {
				base := testenv.MeasureRefs()
				target := js.Global().Get("EventTarget").New()
				r := &recorder{sig: jsutil.NewSignal()}
				b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data", "lastEventId"}, OnBatch: r.onBatch, Defer: deferAll})
				if b.UsesHelper() != helper {
					t.Fatalf("UsesHelper() = %v, want %v", b.UsesHelper(), helper)
				}
				count := r.count
				deferred := helper && deferAll
				target.Call("dispatchEvent", event("m", "first", "", nil))
				if _, n := count(); deferred && n != 0 || !deferred && n != 1 {
					t.Fatalf("%d events delivered inside the first dispatch, want %d", n, map[bool]int{true: 0, false: 1}[deferred])
				}
				const behind = 50
				for i := 0; i < behind; i++ {
					target.Call("dispatchEvent", event("m", strconv.Itoa(i), "", nil))
					if !helper {
						if _, n := count(); n != i+2 {
							t.Fatalf("%d events delivered after dispatching %d without the helper, want each inside its dispatch", n, i+2)
						}
					}
				}
				if _, n := count(); helper && (deferAll && n != 0 || !deferAll && n != 1) {
					t.Fatalf("%d events delivered before the task, want the first only (Defer: none)", n)
				}
				got := r.wait(t, behind+1)
				if nb, _ := count(); helper && nb > 2 {
					t.Fatalf("%d batches for a burst, want at most 2", nb)
				}
				if got[0][0].data != "first" || got[len(got)-1][len(got[len(got)-1])-1].data != strconv.Itoa(behind-1) {
					t.Fatalf("order: first batch starts %q, last ends %q", got[0][0].data, got[len(got)-1][len(got[len(got)-1])-1].data)
				}
				b.Release()
				testenv.CheckRefs(t, base, 5)
			})
		})
	}
}

// TestBatchFlushEvent: with the helper script an event of the Flush type
// hands what is queued to OnBatch inside its own dispatch (not at the
// batch's task), is never delivered itself, and lets the next lone event
// enter Go at once again. Without the script every event reaches OnBatch
// inside its dispatch and flush events are not listened to.
func TestBatchFlushEvent(t *testing.T) {
	eachHelper(t, func(t *testing.T, helper bool) {
		base := testenv.MeasureRefs()
		target := js.Global().Get("EventTarget").New()
		r := &recorder{sig: jsutil.NewSignal()}
		b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data", "lastEventId"}, OnBatch: r.onBatch, Flush: "end"})
		count := r.count
		dispatch := func(typ, data string) {
			target.Call("dispatchEvent", event(typ, data, "", nil))
		}
		// Everything below runs in one task: the batch's posted task cannot run.
		for burst := 0; burst < 3; burst++ {
			_, before := count()
			dispatch("m", "first")
			if _, n := count(); n != before+1 {
				t.Fatalf("burst %d: %d events delivered inside the first dispatch, want %d", burst, n, before+1)
			}
			for i := 0; i < 20; i++ {
				dispatch("m", strconv.Itoa(i))
			}
			if _, n := count(); helper && n != before+1 || !helper && n != before+21 {
				t.Fatalf("burst %d: %d events delivered before the flush event", burst, n)
			}
			dispatch("end", "flush")
			if _, n := count(); n != before+21 {
				t.Fatalf("burst %d: %d events delivered inside the flush event's dispatch, want %d", burst, n, before+21)
			}
		}
		dispatch("end", "flush") // nothing queued: no batch
		nb, n := count()
		if helper && nb != 6 || !helper && nb != 63 {
			t.Fatalf("%d batches of %d events, want %d", nb, n, map[bool]int{true: 6, false: 63}[helper])
		}
		r.mu.Lock()
		for _, batch := range r.batches {
			for _, g := range batch {
				if g.data == "flush" {
					t.Errorf("a flush event was delivered")
				}
			}
		}
		last := r.batches[len(r.batches)-1]
		r.mu.Unlock()
		if got := last[len(last)-1].data; got != "19" {
			t.Fatalf("the last event delivered is %q, want 19", got)
		}
		b.Release()
		testenv.CheckRefs(t, base, 5)
	})
}

// TestBatchHelperBufferChanges drains batches that make the helper's
// buffer grow past its 64 KiB start and past the 1 MiB it keeps (then
// replaced by a small one), with small batches between: Go must follow
// the buffer each time it changes (take's negative count) and read every
// event whole, in order.
func TestBatchHelperBufferChanges(t *testing.T) {
	target := js.Global().Get("EventTarget").New()
	r := &recorder{sig: jsutil.NewSignal()}
	b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data", "lastEventId"}, OnBatch: r.onBatch, Defer: true})
	defer b.Release()
	if !b.UsesHelper() {
		t.Fatal("the batch does not use the helper script")
	}
	var want []string
	for round, spec := range []struct{ events, size int }{{5, 10}, {100, 1 << 10}, {3, 500 << 10}, {4, 20}, {2, 70 << 10}, {3, 7}} {
		for i := 0; i < spec.events; i++ {
			data := strings.Repeat(string(rune('a'+(round+i)%26)), spec.size) + strconv.Itoa(i)
			target.Call("dispatchEvent", event("m", data, strconv.Itoa(len(want)), nil))
			want = append(want, data)
		}
		b.Flush()
	}
	k := 0
	for _, batch := range r.wait(t, len(want)) {
		for _, g := range batch {
			if k >= len(want) || !g.dataOK || g.data != want[k] || g.id != strconv.Itoa(k) {
				t.Fatalf("event %d: %d bytes, id %q; want %d bytes, id %d", k, len(g.data), g.id, len(want[k]), k)
			}
			k++
		}
	}
	if k != len(want) {
		t.Fatalf("%d events, want %d", k, len(want))
	}
}

// TestHelperOtherVersion: a helper script of another version (a stale
// cached copy) is not used, and the console says so once per script.
func TestHelperOtherVersion(t *testing.T) {
	restore := testenv.RemoveHelper()
	defer restore()
	console := js.Global().Get("console")
	warn := console.Get("warn")
	var warnings []string
	rec := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var parts []string
		for _, a := range args {
			parts = append(parts, js.Global().Get("String").Invoke(a).String())
		}
		warnings = append(warnings, strings.Join(parts, " "))
		return nil
	})
	defer rec.Release()
	console.Set("warn", rec)
	defer console.Set("warn", warn)
	stale := js.Global().Get("Object").New()
	stale.Set("version", 6)
	js.Global().Set("cometBatch", stale)
	for i := 0; i < 3; i++ {
		if _, ok := jsutil.Helper(); ok {
			t.Fatal("Helper() took a script of version 6")
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "comet_batch.js is version 6") || !strings.Contains(warnings[0], "speaks version 7") {
		t.Fatalf("warnings %q, want one naming versions 6 and 7", warnings)
	}
	target := js.Global().Get("EventTarget").New()
	r := &recorder{sig: jsutil.NewSignal()}
	b := jsutil.NewBatch(target, jsutil.BatchOptions{Events: []string{"m"}, Keys: []string{"data"}, OnBatch: r.onBatch})
	defer b.Release()
	if b.UsesHelper() {
		t.Fatal("the batch uses a script of version 6")
	}
	target.Call("dispatchEvent", event("m", "x", "", nil))
	if got := r.wait(t, 1); got[0][0].data != "x" {
		t.Fatalf("got %+v through the fallback", got)
	}
	if len(warnings) != 1 {
		t.Fatalf("warned %d times for one script", len(warnings))
	}
}
