//go:build !js

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
)

// TestNodesFanOut runs the nodes section's two measurements small: two
// real nodes on one real Redis, 40 publishes, a fan-out to 60 subscribers
// spread over both. Every subscriber must get every broadcast, whichever
// node it was published on.
func TestNodesFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server")
	}
	rd := redisproc.ForTest(t, redisproc.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	b := &bench{root: root, work: work, serverBin: filepath.Join(work, "comet-server")}
	if err := goBuild(ctx, root, nil, b.serverBin, "./server"); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(work+"/public", 0o755)
	var origins []string
	for range 2 {
		p, err := b.startServer(ctx, "-addr2", "", "-public", work+"/public", "-broker", rd.URL(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Stop)
		origins = append(origins, p.Page)
	}
	rate, err := publishRate(ctx, origins, "thr", 40, 4)
	if err != nil || rate <= 0 {
		t.Fatalf("publishRate = %v, %v", rate, err)
	}
	const subs, runs = 60, 2
	p50s, p99s, held, delivered, err := fanOut(ctx, origins, subs, runs)
	if err != nil {
		t.Fatal(err)
	}
	if held != subs || delivered != subs || len(p99s) != runs || len(p50s) != runs {
		t.Fatalf("held %d and delivered %d of %d, %d p99s and %d p50s of %d runs", held, delivered, subs, len(p99s), len(p50s), runs)
	}
}
