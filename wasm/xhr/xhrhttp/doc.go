//go:build js && wasm

// Package xhrhttp is an http.RoundTripper over XMLHttpRequest, for code
// written against net/http that wants what fetch lacks: upload progress.
//
// Use Transport in an http.Client, and WithUploadProgress (or
// WithDownloadProgress) on a request's ctx to watch it. Errors are the
// *xhr.Error values of package xhr.
//
// # Size
//
// This package imports net/http, which adds about 8 MB to a wasm binary.
// Package xhr alone does not.
//
// # Bodies
//
// The request body is read fully before sending (XHR cannot stream a
// request), and the response arrives whole before RoundTrip returns.
package xhrhttp
