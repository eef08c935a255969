//go:build js && wasm

package xhrhttp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrhttp"
)

func TestClientGetPost(t *testing.T) {
	base := testenv.ServerURL(t)
	c := &http.Client{Transport: &xhrhttp.Transport{}}
	resp, err := c.Get(base + "/api/text")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Ajax") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	resp, err = c.Post(base+"/xhr/echo", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"body":"{\"x\":1}"`) || !strings.Contains(string(b), `"Content-Type":"application/json"`) {
		t.Fatalf("POST echo: %s", b)
	}
	resp, err = c.Get(base + "/xhr/status/404")
	if err != nil || resp.StatusCode != 404 || resp.Status != "404 Not Found" {
		t.Fatalf("404: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestClientUploadProgressAndCancel(t *testing.T) {
	base := testenv.ServerURL(t)
	c := &http.Client{Transport: &xhrhttp.Transport{}}
	var up []xhr.Progress
	ctx := xhrhttp.WithUploadProgress(context.Background(), func(p xhr.Progress) { up = append(up, p) })
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/xhr/sink", bytes.NewReader(make([]byte, 1<<20)))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"size":1048576`) {
		t.Fatalf("sink: %s", b)
	}
	if testenv.InBrowser() {
		if len(up) < 3 || up[0].Type != "loadstart" || up[len(up)-1].Type != "loadend" {
			t.Fatalf("upload progress %+v", up)
		}
	}
	cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(cctx, "GET", base+"/xhr/slow?delay=5000", nil)
	if _, err := c.Do(req); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, xhr.ErrTimeout) {
		t.Fatalf("slow with deadline: %v", err)
	}
}
