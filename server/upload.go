//go:build !js

package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// Limits of resumable uploads.
const (
	maxUploadSize = 1 << 30 // declared size of one upload
	maxUploads    = 1000    // kept, finished or not; the oldest goes first
)

var uploadIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// uploads is the resumable-upload store: files under dir named by
// server-made ids, so no client string ever becomes a path.
type uploads struct {
	dir  string
	mu   sync.Mutex
	m    map[string]*upload
	cuts map[string][]int64       // test hook: offsets where a chunk's connection is cut
	slow map[string]time.Duration // test hook: pause after each 16 KiB of a chunk
}

type upload struct {
	ID      string    `json:"id"`
	Name    string    `json:"name,omitempty"`
	Size    int64     `json:"size"`
	Offset  int64     `json:"offset"`
	Done    bool      `json:"done"`
	SHA256  string    `json:"sha256,omitempty"`
	Created time.Time `json:"created"`
	busy    bool      // a chunk is being written
}

func (s *server) routesUpload() error {
	dir := s.cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "comet-data-")
		if err != nil {
			return err
		}
		dir = d
		s.onClose(func() { os.RemoveAll(d) })
	}
	// The index lives in memory, so files from an earlier run are
	// unreachable: start empty.
	dir = filepath.Join(dir, "uploads")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	u := &uploads{dir: dir, m: map[string]*upload{}, cuts: map[string][]int64{}, slow: map[string]time.Duration{}}
	if s.cfg.TestHooks {
		s.mux.HandleFunc("POST /test/upload/{id}/cut", func(w http.ResponseWriter, r *http.Request) { u.setCuts(w, r) })
	}
	s.mux.HandleFunc("POST /upload/", func(w http.ResponseWriter, r *http.Request) { s.uploadCreate(u, w, r) })
	s.mux.HandleFunc("GET /upload/", func(w http.ResponseWriter, r *http.Request) { u.list(w) })
	s.mux.HandleFunc("GET /upload/{id}", func(w http.ResponseWriter, r *http.Request) { u.status(w, r) })
	s.mux.HandleFunc("HEAD /upload/{id}", func(w http.ResponseWriter, r *http.Request) { u.status(w, r) })
	s.mux.HandleFunc("PUT /upload/{id}", func(w http.ResponseWriter, r *http.Request) { s.uploadChunk(u, w, r) })
	s.mux.HandleFunc("POST /upload/{id}/finish", func(w http.ResponseWriter, r *http.Request) { s.uploadFinish(u, w, r) })
	return nil
}

// get finds the upload named by the path, or answers 400/404.
func (u *uploads) get(w http.ResponseWriter, r *http.Request) *upload {
	id := r.PathValue("id")
	if !uploadIDPattern.MatchString(id) {
		httpx.WriteError(w, http.StatusBadRequest, "upload id: want 32 lowercase hex digits")
		return nil
	}
	u.mu.Lock()
	up := u.m[id]
	u.mu.Unlock()
	if up == nil {
		httpx.WriteError(w, http.StatusNotFound, "no such upload")
	}
	return up
}

func (u *uploads) path(id string) string { return filepath.Join(u.dir, id) }

// uploadCreate: POST /upload/ {"size": n, "name": "..."} → 201 {id, offset: 0, ...}.
func (s *server) uploadCreate(u *uploads, w http.ResponseWriter, r *http.Request) {
	var in struct {
		Size int64  `json:"size"`
		Name string `json:"name"`
	}
	if !httpx.DecodeJSON(w, r, 4<<10, &in) {
		return
	}
	switch {
	case in.Size < 0:
		httpx.WriteError(w, http.StatusBadRequest, "size: want a byte count ≥ 0")
		return
	case in.Size > maxUploadSize:
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("size over the limit of %d bytes", maxUploadSize))
		return
	case len(in.Name) > 255:
		httpx.WriteError(w, http.StatusBadRequest, "name: at most 255 bytes")
		return
	}
	var raw [16]byte
	rand.Read(raw[:])
	up := &upload{ID: hex.EncodeToString(raw[:]), Name: in.Name, Size: in.Size, Created: time.Now().UTC()}
	u.mu.Lock()
	if len(u.m) >= maxUploads && !u.evictOldest() {
		u.mu.Unlock()
		httpx.WriteError(w, http.StatusServiceUnavailable, "too many uploads in progress")
		return
	}
	u.m[up.ID] = up
	u.mu.Unlock()
	f, err := os.OpenFile(u.path(up.ID), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		u.mu.Lock()
		delete(u.m, up.ID)
		u.mu.Unlock()
		httpx.WriteError(w, http.StatusInternalServerError, "cannot create the upload")
		return
	}
	f.Close()
	w.Header().Set("Location", "/upload/"+up.ID)
	httpx.WriteJSON(w, http.StatusCreated, up)
}

// snapshot copies up under the lock.
func (u *uploads) snapshot(up *upload) upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	return *up
}

// status: GET /upload/{id} → {id, offset, size, done}; also Upload-Offset.
func (u *uploads) status(w http.ResponseWriter, r *http.Request) {
	up := u.get(w, r)
	if up == nil {
		return
	}
	snap := u.snapshot(up)
	w.Header().Set("Upload-Offset", strconv.FormatInt(snap.Offset, 10))
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, snap)
}

func (u *uploads) list(w http.ResponseWriter) {
	u.mu.Lock()
	out := []upload{}
	for _, up := range u.m {
		if up.Done {
			out = append(out, *up)
		}
	}
	u.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	httpx.WriteJSON(w, http.StatusOK, out)
}

// parseContentRange parses "bytes start-end/total".
func parseContentRange(v string) (start, end, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	rng, tot, ok2 := strings.Cut(rest, "/")
	a, b, ok3 := strings.Cut(rng, "-")
	if !ok || !ok2 || !ok3 || !allDigits(a) || !allDigits(b) || !allDigits(tot) { // RFC 9110: 1*DIGIT, no sign
		return 0, 0, 0, errors.New("Content-Range: want bytes start-end/total")
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	total, err3 := strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start {
		return 0, 0, 0, errors.New("Content-Range: want bytes start-end/total")
	}
	return start, end, total, nil
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// uploadChunk: PUT /upload/{id} with Content-Range: bytes start-end/total.
// 409 (with the offset) if start is not the offset or another chunk is
// being written; 413 past the declared size or over MaxBodyBytes (the chunk limit).
// Bytes are kept as they arrive, so an interrupted chunk still advances
// the offset.
func (s *server) uploadChunk(u *uploads, w http.ResponseWriter, r *http.Request) {
	up := u.get(w, r)
	if up == nil {
		return
	}
	start, end, total, err := parseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		httpx.WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	n := end - start + 1
	u.mu.Lock()
	snap := *up
	conflict := ""
	switch {
	case snap.Done:
		conflict = "upload already finished"
	case snap.busy:
		conflict = "another chunk is being written"
	case start != snap.Offset:
		conflict = fmt.Sprintf("chunk starts at %d, the offset is %d", start, snap.Offset)
	}
	if conflict == "" && total == snap.Size && end < snap.Size && n <= s.cfg.MaxBodyBytes {
		up.busy = true
	}
	u.mu.Unlock()
	switch {
	case total != snap.Size:
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("Content-Range total %d, the declared size is %d", total, snap.Size))
		return
	case end >= snap.Size || n > s.cfg.MaxBodyBytes:
		httpx.WriteError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("chunk past the declared size or over %d bytes", s.cfg.MaxBodyBytes))
		return
	case conflict != "":
		w.Header().Set("Upload-Offset", strconv.FormatInt(snap.Offset, 10))
		httpx.WriteJSON(w, http.StatusConflict, map[string]any{"error": conflict, "offset": snap.Offset})
		return
	}
	defer func() {
		u.mu.Lock()
		up.busy = false
		u.mu.Unlock()
	}()
	f, err := os.OpenFile(u.path(up.ID), os.O_WRONLY, 0)
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, "cannot open the upload")
		return
	}
	defer f.Close()
	body := http.MaxBytesReader(w, r.Body, n)
	buf := make([]byte, 64<<10)
	off := start
	stop := u.takeCut(up.ID, start, end) // end+1 unless a test cuts this chunk
	u.mu.Lock()
	pause := u.slow[up.ID]
	u.mu.Unlock()
	if pause > 0 {
		buf = buf[:16<<10]
	}
	for off <= end {
		if pause > 0 && off > start && !sleepCtx(r.Context(), pause) {
			return
		}
		if off == stop {
			panic(http.ErrAbortHandler) // the test hook: drop the connection here
		}
		m, rerr := body.Read(buf[:min(int64(len(buf)), stop-off)])
		if m > 0 {
			if _, werr := f.WriteAt(buf[:m], off); werr != nil {
				httpx.WriteError(w, http.StatusInternalServerError, "write failed")
				return
			}
			off += int64(m)
			u.mu.Lock()
			up.Offset = off
			u.mu.Unlock()
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			httpx.WriteBodyError(w, rerr)
			return
		}
	}
	if off != end+1 {
		httpx.WriteError(w, http.StatusBadRequest, fmt.Sprintf("body ended at %d, Content-Range said %d", off, end+1))
		return
	}
	w.Header().Set("Upload-Offset", strconv.FormatInt(off, 10))
	httpx.WriteJSON(w, http.StatusOK, map[string]int64{"offset": off})
}

// uploadFinish: POST /upload/{id}/finish {"sha256": "hex"} → 200 when the
// whole file arrived and its SHA-256 matches; 409 if bytes are missing;
// 422 on a mismatch.
func (s *server) uploadFinish(u *uploads, w http.ResponseWriter, r *http.Request) {
	up := u.get(w, r)
	if up == nil {
		return
	}
	var in struct {
		SHA256 string `json:"sha256"`
	}
	if !httpx.DecodeJSON(w, r, 4<<10, &in) {
		return
	}
	want := strings.ToLower(in.SHA256)
	if len(want) != 64 {
		httpx.WriteError(w, http.StatusBadRequest, "sha256: want 64 hex digits")
		return
	}
	snap := u.snapshot(up)
	if snap.Done {
		if snap.SHA256 == want {
			httpx.WriteJSON(w, http.StatusOK, snap)
		} else {
			httpx.WriteError(w, http.StatusUnprocessableEntity, "SHA-256 mismatch")
		}
		return
	}
	if snap.busy || snap.Offset != snap.Size {
		w.Header().Set("Upload-Offset", strconv.FormatInt(snap.Offset, 10))
		httpx.WriteJSON(w, http.StatusConflict, map[string]any{"error": "upload incomplete", "offset": snap.Offset})
		return
	}
	f, err := os.Open(u.path(up.ID))
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, "cannot open the upload")
		return
	}
	h := sha256.New()
	_, err = io.Copy(h, io.LimitReader(f, snap.Size))
	f.Close()
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, "cannot read the upload")
		return
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		httpx.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "SHA-256 mismatch", "sha256": got})
		return
	}
	u.mu.Lock()
	up.Done, up.SHA256 = true, got
	snap = *up
	u.mu.Unlock()
	httpx.WriteJSON(w, http.StatusOK, snap)
}

// setCuts (test hook): POST /test/upload/{id}/cut {"at": [offsets],
// "pauseMs": n} makes the chunks that cross those offsets lose their
// connection there, and the server read chunks slowly (n ms per 16 KiB).
// A slow read lets the browser report upload progress within a chunk.
func (u *uploads) setCuts(w http.ResponseWriter, r *http.Request) {
	up := u.get(w, r)
	if up == nil {
		return
	}
	var in struct {
		At      []int64 `json:"at"`
		PauseMs int     `json:"pauseMs"`
	}
	if !httpx.DecodeJSON(w, r, 4<<10, &in) {
		return
	}
	sort.Slice(in.At, func(i, j int) bool { return in.At[i] < in.At[j] })
	u.mu.Lock()
	u.cuts[up.ID] = in.At
	u.slow[up.ID] = time.Duration(min(max(in.PauseMs, 0), 1000)) * time.Millisecond
	u.mu.Unlock()
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"cuts": len(in.At)})
}

// takeCut returns the first cut point in (start, end] and forgets it, or
// end+1 when there is none.
func (u *uploads) takeCut(id string, start, end int64) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	cuts := u.cuts[id]
	for len(cuts) > 0 && cuts[0] <= start {
		cuts = cuts[1:]
	}
	stop := end + 1
	if len(cuts) > 0 && cuts[0] <= end {
		stop = cuts[0]
		cuts = cuts[1:]
	}
	u.cuts[id] = cuts
	return stop
}

// evictOldest forgets the oldest upload no chunk is being written to, and
// deletes its file. It reports false if every upload is busy. u.mu is held.
func (u *uploads) evictOldest() bool {
	var old *upload
	for _, up := range u.m {
		if !up.busy && (old == nil || up.Created.Before(old.Created)) {
			old = up
		}
	}
	if old == nil {
		return false
	}
	delete(u.m, old.ID)
	delete(u.cuts, old.ID)
	delete(u.slow, old.ID)
	os.Remove(u.path(old.ID))
	return true
}

// sleepCtx waits d unless ctx ends first; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
