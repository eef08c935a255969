//go:build js && wasm

package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

// Sentinel errors.
var (
	// ErrChecksum: the server's SHA-256 of the stored file differs from
	// the one computed here.
	ErrChecksum = errors.New("upload: SHA-256 mismatch")
	// ErrServer: the server answered something unexpected; the error
	// carries its status and message.
	ErrServer = errors.New("upload: server error")
	// ErrSize: Resume got a Blob whose size differs from the upload's.
	ErrSize = errors.New("upload: the file's size differs from the upload's")
)

// Config tunes an Upload. The zero value is ready to use.
type Config struct {
	// URL is the upload collection. Defaults to "/upload/".
	URL string
	// ChunkSize is the bytes per request. Defaults to 1 MiB, which is
	// also the server's body limit.
	ChunkSize int64
	// Retries is how many failures in a row Send accepts before it gives
	// up. Defaults to 5.
	Retries int
	// Backoff is the wait after the first failure, doubled after each
	// further one, at most 5 seconds. Defaults to 200 ms.
	Backoff time.Duration
	// OnProgress receives the bytes the server has or is receiving, over
	// the whole file. After a failure it may step back to the server's
	// offset. It runs on the goroutine that called Send.
	OnProgress func(sent, total int64)
}

// Upload is one resumable upload of a Blob or File.
type Upload struct {
	cfg  Config
	blob xhr.Blob
	id   string
	sum  string
	size int64
}

// New computes the Blob's SHA-256 and creates the upload on the server.
func New(ctx context.Context, blob xhr.Blob, cfg *Config) (*Upload, error) {
	u, err := prepare(ctx, blob, cfg)
	if err != nil {
		return nil, err
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := u.call(ctx, &xhr.Request{
		Method: "POST", URL: u.cfg.URL,
		Body: xhrjson.Body{Value: map[string]any{"size": u.size, "name": blob.Name()}},
	}, 201, &created); err != nil {
		return nil, err
	}
	u.id = created.ID
	return u, nil
}

// Resume continues the upload id with the same Blob, e.g. after a reload.
func Resume(ctx context.Context, id string, blob xhr.Blob, cfg *Config) (*Upload, error) {
	u, err := prepare(ctx, blob, cfg)
	if err != nil {
		return nil, err
	}
	u.id = id
	st, err := u.status(ctx)
	if err != nil {
		return nil, err
	}
	if st.Size != u.size {
		return nil, ErrSize
	}
	return u, nil
}

func prepare(ctx context.Context, blob xhr.Blob, cfg *Config) (*Upload, error) {
	u := &Upload{blob: blob, size: blob.Size()}
	if cfg != nil {
		u.cfg = *cfg
	}
	if u.cfg.URL == "" {
		u.cfg.URL = "/upload/"
	}
	if !strings.HasSuffix(u.cfg.URL, "/") {
		u.cfg.URL += "/"
	}
	if u.cfg.ChunkSize <= 0 {
		u.cfg.ChunkSize = 1 << 20
	}
	if u.cfg.Retries <= 0 {
		u.cfg.Retries = 5
	}
	if u.cfg.Backoff <= 0 {
		u.cfg.Backoff = 200 * time.Millisecond
	}
	h := sha256.New()
	for off := int64(0); off < u.size; off += u.cfg.ChunkSize {
		b, err := blob.Slice(off, min(off+u.cfg.ChunkSize, u.size)).Bytes(ctx)
		if err != nil {
			return nil, err
		}
		h.Write(b)
	}
	u.sum = hex.EncodeToString(h.Sum(nil))
	return u, nil
}

// ID returns the server's id of the upload: keep it to Resume later.
func (u *Upload) ID() string { return u.id }

// SHA256 returns the hex SHA-256 of the file.
func (u *Upload) SHA256() string { return u.sum }

type status struct {
	Size   int64  `json:"size"`
	Offset int64  `json:"offset"`
	Done   bool   `json:"done"`
	SHA256 string `json:"sha256"`
}

func (u *Upload) status(ctx context.Context) (status, error) {
	var st status
	err := u.call(ctx, &xhr.Request{URL: u.cfg.URL + u.id}, 200, &st)
	return st, err
}

// Send uploads what the server lacks, from the offset it reports, then
// asks it to verify the SHA-256. After a failure it waits (backoff), asks
// the server for its offset again and goes on. Cancelling ctx stops it;
// Send may be called again later to resume.
func (u *Upload) Send(ctx context.Context) error {
	failures := 0
	backoff := u.cfg.Backoff
	fail := func(err error) error {
		if ctx.Err() != nil || errors.Is(err, ErrChecksum) || errors.Is(err, ErrSize) {
			return err
		}
		var se *ServerError
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != 409 {
			return err // the server will not change its mind
		}
		failures++
		if failures > u.cfg.Retries {
			return err
		}
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(backoff*2, 5*time.Second)
		return nil
	}
	for {
		st, err := u.status(ctx)
		if err != nil {
			if err := fail(err); err != nil {
				return err
			}
			continue
		}
		if st.Done {
			if st.SHA256 != u.sum {
				return ErrChecksum
			}
			return nil
		}
		off := st.Offset
		if u.cfg.OnProgress != nil {
			u.cfg.OnProgress(off, u.size)
		}
		for off < u.size && err == nil {
			off, err = u.chunk(ctx, off)
			if err == nil {
				failures, backoff = 0, u.cfg.Backoff
			}
		}
		if err == nil {
			err = u.call(ctx, &xhr.Request{
				Method: "POST", URL: u.cfg.URL + u.id + "/finish",
				Body: xhrjson.Body{Value: map[string]string{"sha256": u.sum}},
			}, 200, nil)
			if err == nil {
				return nil
			}
		}
		if err := fail(err); err != nil {
			return err
		}
	}
}

// chunk sends the bytes from off and returns the server's new offset.
func (u *Upload) chunk(ctx context.Context, off int64) (int64, error) {
	end := min(off+u.cfg.ChunkSize, u.size)
	req := &xhr.Request{
		Method: "PUT", URL: u.cfg.URL + u.id,
		Header: xhr.Header{"Content-Range": {"bytes " + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end-1, 10) + "/" + strconv.FormatInt(u.size, 10)}},
		Body:   u.blob.Slice(off, end),
	}
	if u.cfg.OnProgress != nil {
		req.OnUploadProgress = func(p xhr.Progress) {
			if p.Type == "progress" {
				u.cfg.OnProgress(off+p.Loaded, u.size)
			}
		}
	}
	var out struct {
		Offset int64 `json:"offset"`
	}
	if err := u.call(ctx, req, 200, &out); err != nil {
		return off, err
	}
	if u.cfg.OnProgress != nil {
		u.cfg.OnProgress(out.Offset, u.size)
	}
	return out.Offset, nil
}

// ServerError is an unexpected answer from the server.
type ServerError struct {
	Status  int
	Message string
}

func (e *ServerError) Error() string {
	return "upload: server answered " + strconv.Itoa(e.Status) + ": " + e.Message
}

// Unwrap returns ErrServer, or ErrChecksum for a 422.
func (e *ServerError) Unwrap() error {
	if e.Status == 422 {
		return ErrChecksum
	}
	return ErrServer
}

// call sends req, wants status want, and decodes the JSON answer into out.
func (u *Upload) call(ctx context.Context, req *xhr.Request, want int, out any) error {
	req.ResponseType = xhr.ResponseText
	resp, err := xhr.Send(ctx, req)
	if err != nil {
		return err
	}
	if resp.Status != want {
		var e struct {
			Error string `json:"error"`
		}
		xhrjson.Decode(resp, &e)
		return &ServerError{Status: resp.Status, Message: e.Error}
	}
	if out != nil {
		return xhrjson.Decode(resp, out)
	}
	return nil
}
