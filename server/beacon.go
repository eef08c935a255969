//go:build !js

package main

import (
	"net/http"
	"sync"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// gif1x1 is a transparent 1×1 GIF.
var gif1x1 = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

const (
	maxBeaconTags  = 10000
	maxBeaconBytes = 64 << 10
)

// beaconLog counts hits per tag and keeps the last body per tag.
type beaconLog struct {
	mu   sync.Mutex
	hits map[string]*beaconHit
}

type beaconHit struct {
	Hits int    `json:"hits"`
	Body string `json:"body"`
	Kind string `json:"kind"` // "image" or "beacon"
}

func (s *server) routesBeacon() error {
	b := &beaconLog{hits: map[string]*beaconHit{}}
	s.mux.HandleFunc("GET /beacon.gif", func(w http.ResponseWriter, r *http.Request) {
		b.record(r.URL.Query().Get("tag"), "image", "")
		h := w.Header()
		h.Set("Content-Type", "image/gif")
		h.Set("Cache-Control", "no-store")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		w.Write(gif1x1)
	})
	s.handleMethods("/beacon", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, httpx.CORSOptions{Credentials: true}) {
			return
		}
		body, ok := httpx.ReadBody(w, r, maxBeaconBytes)
		if !ok {
			return
		}
		b.record(r.URL.Query().Get("tag"), "beacon", string(body))
		w.WriteHeader(http.StatusNoContent)
	}, "POST")
	s.mux.HandleFunc("GET /beacon/hits", func(w http.ResponseWriter, r *http.Request) {
		tag := r.URL.Query().Get("tag")
		b.mu.Lock()
		hit := beaconHit{}
		if h := b.hits[tag]; h != nil {
			hit = *h
		}
		b.mu.Unlock()
		httpx.WriteJSON(w, http.StatusOK, hit)
	})
	return nil
}

// record counts a hit; it keeps at most maxBeaconTags tags.
func (b *beaconLog) record(tag, kind, body string) {
	if len(tag) > 128 {
		tag = tag[:128]
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hits[tag]
	if h == nil {
		if len(b.hits) >= maxBeaconTags {
			clear(b.hits)
		}
		h = &beaconHit{}
		b.hits[tag] = h
	}
	h.Hits++
	h.Kind = kind
	h.Body = body
}
