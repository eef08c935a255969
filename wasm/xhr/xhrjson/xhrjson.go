//go:build js && wasm

package xhrjson

import (
	"encoding/json"
	"errors"

	"github.com/cometwasm/comet/wasm/xhr"
)

// ErrNoBody: the response has no body to decode (e.g. a ResponseBlob
// request, or an empty body).
var ErrNoBody = errors.New("xhrjson: response has no JSON body")

// Body is a request body encoded with encoding/json, sent with
// Content-Type application/json unless the request sets one.
type Body struct{ Value any }

// EncodeBody implements xhr.Encoder.
func (b Body) EncodeBody() ([]byte, string, error) {
	data, err := json.Marshal(b.Value)
	return data, "application/json", err
}

// Decode decodes the body of resp into v. A decoding error is one of
// encoding/json's (errors.As works).
func Decode(resp *xhr.Response, v any) error {
	data := resp.Bytes()
	if len(data) == 0 {
		return ErrNoBody
	}
	return json.Unmarshal(data, v)
}
