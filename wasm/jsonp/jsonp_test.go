//go:build js && wasm

package jsonp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/jsonp"
)

const noDOM = "node has no document to load a <script> into"

func TestGetCrossOrigin(t *testing.T) {
	testenv.BrowserOnly(t, noDOM)
	base := testenv.MeasureRefs()
	var got struct {
		OK  bool   `json:"ok"`
		Msg string `json:"msg"`
	}
	err := jsonp.GetJSON(context.Background(), testenv.SecondURL(t)+"/jsonp?msg=hi%20there", nil, &got)
	if err != nil || !got.OK || got.Msg != "hi there" {
		t.Fatalf("GetJSON = %+v, %v", got, err)
	}
	testenv.CheckRefs(t, base, 5)
}

func TestFailures(t *testing.T) {
	testenv.BrowserOnly(t, noDOM)
	second := testenv.SecondURL(t)
	ctx := context.Background()
	tests := []struct {
		name string
		url  string
		opt  *jsonp.Options
		want error
	}{
		{"timeout", second + "/jsonp?delay=5000", &jsonp.Options{Timeout: 100 * time.Millisecond}, jsonp.ErrTimeout},
		{"no callback", second + "/jsonp?mode=silent", nil, jsonp.ErrNoCallback},
		{"load error", second + "/xhr/status/404", nil, jsonp.ErrLoad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := testenv.MeasureRefs()
			_, err := jsonp.Get(ctx, tt.url, tt.opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			testenv.CheckRefs(t, base, 5)
		})
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := jsonp.Get(cctx, second+"/jsonp?delay=5000", nil); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, jsonp.ErrTimeout) {
		t.Fatalf("ctx deadline: %v", err)
	}
}

func TestUnsupportedInNode(t *testing.T) {
	testenv.NodeOnly(t, "Chromium has a document")
	if _, err := jsonp.Get(context.Background(), testenv.ServerURL(t)+"/jsonp", nil); !errors.Is(err, jsonp.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
}
