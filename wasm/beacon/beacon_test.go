//go:build js && wasm

package beacon_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/beacon"
	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

type hits struct {
	Hits int    `json:"hits"`
	Body string `json:"body"`
	Kind string `json:"kind"`
}

// waitHits polls the server's record of tag until it has n hits.
func waitHits(t *testing.T, base, tag string, n int) hits {
	t.Helper()
	var h hits
	for range 100 {
		resp, err := xhr.Get(context.Background(), base+"/beacon/hits?tag="+tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := xhrjson.Decode(resp, &h); err != nil {
			t.Fatal(err)
		}
		if h.Hits >= n {
			return h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("tag %s: %d hits, want %d", tag, h.Hits, n)
	return h
}

func tag(t *testing.T) string { return t.Name() + strconv.FormatInt(time.Now().UnixNano(), 36) }

func TestPingCrossOrigin(t *testing.T) {
	testenv.BrowserOnly(t, "node has no Image")
	base := testenv.MeasureRefs()
	second := testenv.SecondURL(t)
	tg := tag(t)
	if err := beacon.Ping(context.Background(), second+"/beacon.gif?tag="+tg); err != nil {
		t.Fatal(err)
	}
	// Both origins share one server: read the record same-origin.
	if h := waitHits(t, testenv.ServerURL(t), tg, 1); h.Kind != "image" || h.Hits != 1 {
		t.Errorf("hits %+v", h)
	}
	// Not an image: onerror.
	if err := beacon.Ping(context.Background(), second+"/api/text"); !errors.Is(err, beacon.ErrFailed) {
		t.Errorf("ping of text: %v, want ErrFailed", err)
	}
	testenv.CheckRefs(t, base, 5)
}

func TestSendBeacon(t *testing.T) {
	testenv.BrowserOnly(t, "node has no navigator.sendBeacon")
	server := testenv.ServerURL(t)
	tg := tag(t)
	if err := beacon.Send(server+"/beacon?tag="+tg, "bye"); err != nil {
		t.Fatal(err)
	}
	if h := waitHits(t, server, tg, 1); h.Kind != "beacon" || h.Body != "bye" {
		t.Errorf("hits %+v", h)
	}
	if err := beacon.Send(server+"/beacon", make([]byte, 128<<10)); !errors.Is(err, beacon.ErrRefused) {
		t.Errorf("128 KiB beacon: %v, want ErrRefused", err)
	}
}

func TestUnsupportedInNode(t *testing.T) {
	testenv.NodeOnly(t, "Chromium has Image and sendBeacon")
	if err := beacon.Ping(context.Background(), testenv.ServerURL(t)+"/beacon.gif"); !errors.Is(err, beacon.ErrUnsupported) {
		t.Errorf("Ping: %v", err)
	}
	if err := beacon.Send(testenv.ServerURL(t)+"/beacon", "x"); !errors.Is(err, beacon.ErrUnsupported) {
		t.Errorf("Send: %v", err)
	}
}
