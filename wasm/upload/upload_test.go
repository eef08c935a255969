//go:build js && wasm

package upload_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cometwasm/comet/wasm/internal/testenv"
	"github.com/cometwasm/comet/wasm/upload"
	"github.com/cometwasm/comet/wasm/xhr"
	"github.com/cometwasm/comet/wasm/xhr/xhrjson"
)

func randomBlob(t *testing.T, n int) ([]byte, xhr.Blob) {
	t.Helper()
	data := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(data)
	b, err := xhr.NewBlob(data, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	return data, b
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type serverUpload struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Done   bool   `json:"done"`
	SHA256 string `json:"sha256"`
}

func serverState(t *testing.T, base, id string) serverUpload {
	t.Helper()
	resp, err := xhr.Get(context.Background(), base+"/upload/"+id)
	if err != nil || resp.Status != 200 {
		t.Fatalf("GET upload: %v %v", resp, err)
	}
	var st serverUpload
	if err := xhrjson.Decode(resp, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestUploadWhole(t *testing.T) {
	base := testenv.ServerURL(t)
	data, blob := randomBlob(t, 300_000)
	var last int64
	u, err := upload.New(context.Background(), blob, &upload.Config{URL: base + "/upload/", ChunkSize: 64 << 10,
		OnProgress: func(sent, total int64) { last = sent }})
	if err != nil {
		t.Fatal(err)
	}
	if u.SHA256() != sum(data) {
		t.Fatalf("client SHA-256 %s, want %s", u.SHA256(), sum(data))
	}
	if err := u.Send(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := serverState(t, base, u.ID())
	if !st.Done || st.SHA256 != sum(data) || st.Offset != int64(len(data)) || last != int64(len(data)) {
		t.Fatalf("server %+v, last progress %d", st, last)
	}
	resp, err := xhr.Get(context.Background(), base+"/upload/")
	if err != nil || !strings.Contains(resp.Text(), u.ID()) {
		t.Fatalf("finished uploads list lacks %s: %v", u.ID(), err)
	}
}

// TestUploadInterruptedByContext cancels Send 5 times at random points
// of the upload progress, mid-chunk, then resumes, and the server's
// SHA-256 matches.
func TestUploadInterruptedByContext(t *testing.T) {
	testenv.BrowserOnly(t, "the xhr2 polyfill fires no upload progress, so the test cannot stop mid-chunk")
	base := testenv.ServerURL(t)
	const n = 6 << 20
	data, blob := randomBlob(t, n)
	cfg := &upload.Config{URL: base + "/upload/", ChunkSize: 1 << 20}
	// Cancel points stay two chunks short of the end: bytes the browser
	// already handed to the network still reach the server after a
	// cancel, and must not finish the upload early.
	const limit = n - 2<<20
	u, err := upload.New(context.Background(), blob, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The server reads slowly, so the browser's upload progress advances
	// within a chunk and the cancels land mid-chunk.
	resp, err := xhr.Send(context.Background(), &xhr.Request{Method: "POST", URL: base + "/test/upload/" + u.ID() + "/cut", Body: xhrjson.Body{Value: map[string]any{"pauseMs": 2}}})
	if err != nil || resp.Status != 200 {
		t.Fatalf("slow hook: %v %v", resp, err)
	}
	interrupted := 0
	var offsets, points []int64
	for range 5 {
		// A random point in the next quarter of what the server lacks.
		cur := serverState(t, base, u.ID()).Offset
		if cur >= limit {
			t.Fatalf("server offset %d passed the last cancel point %d (points %v)", cur, limit, points)
		}
		p := cur + 1 + rand.Int64N(max((limit-cur)/4, 1))
		points = append(points, p)
		ctx, cancel := context.WithCancel(context.Background())
		cfg.OnProgress = func(sent, total int64) {
			if sent >= p {
				cancel()
			}
		}
		u, err = upload.Resume(context.Background(), u.ID(), blob, cfg)
		if err != nil {
			t.Fatal(err)
		}
		err := u.Send(ctx)
		cancel()
		if errors.Is(err, context.Canceled) {
			interrupted++
		} else if err != nil {
			t.Fatalf("interrupted Send: %v", err)
		}
		offsets = append(offsets, serverState(t, base, u.ID()).Offset)
	}
	if interrupted != 5 {
		t.Errorf("interrupted %d times, want 5 (points %v)", interrupted, points)
	}
	for i := 1; i < len(offsets); i++ {
		if offsets[i] < offsets[i-1] {
			t.Errorf("server offset went back: %v", offsets)
		}
	}
	cfg.OnProgress = nil
	if err := u.Send(context.Background()); err != nil {
		t.Fatalf("final Send: %v", err)
	}
	st := serverState(t, base, u.ID())
	if !st.Done || st.SHA256 != sum(data) {
		t.Fatalf("server %+v, want SHA-256 %s", st, sum(data))
	}
	t.Logf("cancelled at %v; server offsets after each cancel %v", points, offsets)
	midChunk := 0
	for _, o := range offsets {
		if o%cfg.ChunkSize != 0 {
			midChunk++
		}
	}
	if midChunk == 0 {
		t.Errorf("no cancel landed mid-chunk: offsets %v", offsets)
	}
}

// TestUploadSurvivesDroppedConnections has the server drop the connection
// at 5 random offsets; Send retries, asks for the offset and finishes.
func TestUploadSurvivesDroppedConnections(t *testing.T) {
	base := testenv.ServerURL(t)
	const n = 2 << 20
	data, blob := randomBlob(t, n)
	u, err := upload.New(context.Background(), blob, &upload.Config{URL: base + "/upload/", ChunkSize: 256 << 10, Backoff: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	at := make([]int64, 5)
	for i := range at {
		at[i] = rand.Int64N(n-1) + 1
	}
	resp, err := xhr.Send(context.Background(), &xhr.Request{Method: "POST", URL: base + "/test/upload/" + u.ID() + "/cut", Body: xhrjson.Body{Value: map[string]any{"at": at}}})
	if err != nil || resp.Status != 200 {
		t.Fatalf("cut hook: %v %v", resp, err)
	}
	if err := u.Send(context.Background()); err != nil {
		t.Fatalf("Send: %v (cuts at %v)", err, at)
	}
	st := serverState(t, base, u.ID())
	if !st.Done || st.SHA256 != sum(data) {
		t.Fatalf("server %+v, want SHA-256 %s", st, sum(data))
	}
}

func TestUploadChecksumMismatch(t *testing.T) {
	base := testenv.ServerURL(t)
	_, blob := randomBlob(t, 1000)
	u, err := upload.New(context.Background(), blob, &upload.Config{URL: base + "/upload/"})
	if err != nil {
		t.Fatal(err)
	}
	// Other bytes of the same size reach the server first.
	resp, err := xhr.Send(context.Background(), &xhr.Request{
		Method: "PUT", URL: base + "/upload/" + u.ID(), Body: make([]byte, 1000),
		Header: xhr.Header{"Content-Range": {"bytes 0-999/1000"}},
	})
	if err != nil || resp.Status != 200 {
		t.Fatalf("PUT: %v %v", resp, err)
	}
	if err := u.Send(context.Background()); !errors.Is(err, upload.ErrChecksum) {
		t.Fatalf("Send = %v, want ErrChecksum", err)
	}
	if st := serverState(t, base, u.ID()); st.Done {
		t.Fatalf("a mismatched upload was finished: %+v", st)
	}
	if _, err := upload.Resume(context.Background(), u.ID(), blob.Slice(0, 10), &upload.Config{URL: base + "/upload/"}); !errors.Is(err, upload.ErrSize) {
		t.Fatalf("Resume with another size: %v", err)
	}
}
