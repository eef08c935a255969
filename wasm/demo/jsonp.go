//go:build js && wasm

package main

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cometwasm/comet/wasm/beacon"
	"github.com/cometwasm/comet/wasm/jsonp"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

// jsonpSection shows the cross-domain tricks of seed 000 from before CORS:
// JSONP (with its failures, which only a timeout reveals) and image pings
// and beacons.
func jsonpSection(cfg config) *card {
	c := newCard("jsonp", "JSONP and image ping",
		"Cross-domain tricks from before CORS, all against the second origin. JSONP runs the server's script with a callback; a server that never calls back is only caught by a timeout. Pings send data one way.")
	second := cfg.SecondOrigin
	if second == "" {
		second = cfg.PageOrigin
	}
	cases := []corsCase{
		{"ok", "JSONP that calls back", jsonpOK},
		{"slow", "JSONP that never answers in time (1 s timeout)", jsonpTimeout},
		{"silent", "JSONP whose script runs but never calls back", jsonpSilent},
		{"img", "Image ping (new Image().src)", pingImage},
		{"beacon", "navigator.sendBeacon", pingBeacon},
	}
	addCases(c, "jsonp", second, "Run all", "All cases ran.", cases)
	return c
}

// leftoverScripts counts <script> elements still pointing at /jsonp.
func leftoverScripts() int {
	return len(doc.QuerySelectorAll(`script[src*="/jsonp"]`))
}

func jsonpOK(ctx context.Context, second string) (string, string) {
	var v struct {
		OK  bool
		Msg string
	}
	err := jsonp.GetJSON(ctx, second+"/jsonp?msg=hello+from+Go", &jsonp.Options{Timeout: 5 * time.Second}, &v)
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	return "ok", "The callback ran with {ok: " + strconv.FormatBool(v.OK) + ", msg: " + strconv.Quote(v.Msg) +
		"}. The page added a <script> from the other origin, whose code called our generated global function; afterwards both were removed (" +
		strconv.Itoa(leftoverScripts()) + " JSONP scripts left in the page)."
}

func jsonpTimeout(ctx context.Context, second string) (string, string) {
	start := time.Now()
	err := jsonp.GetJSON(ctx, second+"/jsonp?delay=5000", &jsonp.Options{Timeout: time.Second}, new(any))
	if errors.Is(err, jsonp.ErrTimeout) {
		return "bad", "Failed after " + time.Since(start).Round(10*time.Millisecond).String() +
			": no callback within the 1 s timeout. A JSONP request has no status and no error event while the server keeps quiet, so only a timer can tell it failed."
	}
	if err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	return "bad", "Unexpected: the callback ran."
}

func jsonpSilent(ctx context.Context, second string) (string, string) {
	err := jsonp.GetJSON(ctx, second+"/jsonp?mode=silent", &jsonp.Options{Timeout: 2 * time.Second}, new(any))
	switch {
	case errors.Is(err, jsonp.ErrNoCallback):
		return "bad", "Failed: the script loaded and ran but never called back. The script's load event gives that away; without it, only the timeout would."
	case errors.Is(err, jsonp.ErrTimeout):
		return "bad", "Failed: no callback before the timeout."
	case err != nil:
		return "bad", "Unexpected: " + plain(err)
	}
	return "bad", "Unexpected: the callback ran."
}

// hitsFor asks the server how often tag was pinged.
func hitsFor(ctx context.Context, tag string, want int) (hits int, body string, err error) {
	for {
		resp, err := xhr.Send(ctx, &xhr.Request{URL: "/beacon/hits", Query: map[string][]string{"tag": {tag}}, ResponseType: xhr.ResponseJSON})
		if err = checked(resp, err); err != nil {
			return 0, "", err
		}
		var h struct {
			Hits int
			Body string
		}
		if err := xhrjson.Decode(resp, &h); err != nil {
			return 0, "", err
		}
		if h.Hits >= want {
			return h.Hits, h.Body, nil
		}
		select {
		case <-ctx.Done():
			return h.Hits, h.Body, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func pingTag(kind string) string {
	return kind + strconv.FormatInt(time.Now().UnixNano()%1e10, 36)
}

func pingImage(ctx context.Context, second string) (string, string) {
	tag := pingTag("img")
	if err := beacon.Ping(ctx, second+"/beacon.gif?tag="+tag); err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	hits, _, err := hitsFor(ctx, tag, 1)
	if err != nil {
		return "bad", "The ping loaded, but counting it failed: " + plain(err)
	}
	return "ok", "Delivered: the 1×1 GIF loaded, and the server counted " + strconv.Itoa(hits) + " hit for tag " + tag +
		". An image may come from any origin, so this works without CORS, but it is GET only and the page learns nothing except that an image came back."
}

func pingBeacon(ctx context.Context, second string) (string, string) {
	tag := pingTag("beacon")
	body := "page state at " + time.Now().UTC().Format("15:04:05")
	if err := beacon.Send(second+"/beacon?tag="+tag, body); err != nil {
		return "bad", "Unexpected: " + plain(err)
	}
	_, got, err := hitsFor(ctx, tag, 1)
	if err != nil {
		return "bad", "Queued, but the server did not record it: " + plain(err)
	}
	return "ok", "Delivered: the browser queued a POST that would survive even closing the page; the server received " +
		strconv.Quote(got) + ". Nobody reads its answer."
}
