//go:build js && wasm

package main

import (
	"context"
	"errors"
	"strconv"

	"github.com/cometwasm/comet/wasm/internal/bench/benchjs"
	"github.com/cometwasm/comet/wasm/xhr"
)

func init() { cases["xhr"] = xhrCase }

// xhrCase sends Count sequential requests: GETs, or POSTs of Upload bytes.
func xhrCase(ctx context.Context, p benchjs.Params) (benchjs.Result, error) {
	clock := benchjs.NewClock()
	var body []byte
	method := "GET"
	if p.Upload > 0 {
		body, method = benchjs.Payload(p.Upload), "POST"
	}
	rt := xhr.ResponseText
	if p.Binary {
		rt = xhr.ResponseArrayBuffer
	}
	var res benchjs.Result
	t0 := clock.NowMs()
	for i := 0; i < p.Count; i++ {
		req := &xhr.Request{Method: method, URL: p.URL + sep(p.URL) + "r=" + strconv.Itoa(i), ResponseType: rt}
		if body != nil {
			req.Body = body
		}
		resp, err := xhr.Send(ctx, req)
		if err != nil {
			return res, err
		}
		if !resp.OK() {
			return res, errors.New("status " + strconv.Itoa(resp.Status))
		}
		if body != nil {
			res.Bytes += int64(len(body))
		} else {
			res.Bytes += int64(len(resp.Bytes()))
		}
		res.N++
	}
	res.Ms = clock.Since(t0)
	return res, nil
}

func sep(url string) string {
	for i := 0; i < len(url); i++ {
		if url[i] == '?' {
			return "&"
		}
	}
	return "?"
}
