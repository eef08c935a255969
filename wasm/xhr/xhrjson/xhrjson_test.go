//go:build js && wasm

package xhrjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

func TestBodyAndDecode(t *testing.T) {
	t.Parallel()
	base := testenv.ServerURL(t)
	ctx := context.Background()
	in := map[string]string{"id": "7", "content": "이것은 컨텐츠"}
	resp, err := xhr.Send(ctx, &xhr.Request{Method: "POST", URL: base + "/api/ajax4", Body: xhrjson.Body{Value: in}})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := xhrjson.Decode(resp, &out); err != nil || out["id"] != "7" || out["content"] != in["content"] {
		t.Fatalf("Decode = %v, %v", out, err)
	}
	// Not JSON for v: encoding/json's error.
	var n int
	var typeErr *json.UnmarshalTypeError
	if err := xhrjson.Decode(resp, &n); !errors.As(err, &typeErr) {
		t.Errorf("Decode into int: %v", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	base := testenv.ServerURL(t)
	// A value encoding/json refuses: Send fails before sending, wrapped.
	_, err := xhr.Send(context.Background(), &xhr.Request{Method: "POST", URL: base + "/xhr/echo", Body: xhrjson.Body{Value: make(chan int)}})
	var unsupported *json.UnsupportedTypeError
	if !errors.Is(err, xhr.ErrInvalid) || !errors.As(err, &unsupported) {
		t.Errorf("Send(chan) = %v", err)
	}
	if err := xhrjson.Decode(&xhr.Response{}, new(any)); !errors.Is(err, xhrjson.ErrNoBody) {
		t.Errorf("Decode(empty) = %v", err)
	}
}
