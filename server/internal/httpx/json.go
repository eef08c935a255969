//go:build !js

package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
)

// APIError is the JSON body of every 4xx and 5xx answer: {"error": "..."}.
type APIError struct {
	Error string `json:"error"`
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers with a JSON error body.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, APIError{Error: msg})
}

// DecodeJSON reads one JSON value of at most limit bytes from r's body
// into v. On failure it has already answered: 415 for a wrong
// Content-Type, 413 for an oversized body, 400 for malformed JSON.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			WriteError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", ct))
			return false
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		WriteBodyError(w, err)
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		WriteError(w, http.StatusBadRequest, "malformed JSON: trailing data after the value")
		return false
	}
	return true
}

// ReadBody reads at most limit bytes of r's body. On failure it has
// already answered (413 or 400).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		WriteBodyError(w, err)
		return nil, false
	}
	return b, true
}

func WriteBodyError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over the limit of %d bytes", tooBig.Limit))
	case errors.Is(err, os.ErrDeadlineExceeded): // Guard.BodyReadTimeout
		WriteError(w, http.StatusRequestTimeout, "request body not received within the time limit")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		WriteError(w, http.StatusBadRequest, "malformed JSON: body empty or truncated")
	default:
		WriteError(w, http.StatusBadRequest, "malformed body: "+err.Error())
	}
}

// MustJSON encodes v, which must not fail (types without channels, funcs
// or cycles).
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
