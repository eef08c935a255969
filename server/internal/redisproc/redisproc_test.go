//go:build !js

package redisproc_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
)

func TestRestartKeepsAppendOnlyData(t *testing.T) {
	for _, tc := range []struct {
		name string
		aof  bool
		want string
	}{
		{"aof", true, "$1"},
		{"no persistence", false, "$-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := redisproc.ForTest(t, redisproc.Config{AppendOnly: tc.aof})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := s.Do(ctx, "SET", "k", "v"); err != nil {
				t.Fatal(err)
			}
			addr, dir := s.Addr, s.Dir
			if err := s.Restart(); err != nil {
				t.Fatal(err)
			}
			if s.Addr != addr {
				t.Fatalf("restart moved the server from %s to %s", addr, s.Addr)
			}
			got, err := s.Do(ctx, "GET", "k")
			if err != nil || got != tc.want {
				t.Fatalf("GET after restart = %q, %v; want %q", got, err, tc.want)
			}
			s.Kill()
			if s.Running() || redisproc.Ping(s.Addr, time.Second) == nil {
				t.Fatal("server still answers after Kill")
			}
			s.Close()
			if _, err := os.Stat(filepath.Join(dir, "redis.log")); !os.IsNotExist(err) {
				t.Fatalf("Close left %s: %v", dir, err)
			}
		})
	}
}

func TestPauseStopsAnswering(t *testing.T) {
	t.Parallel()
	s := redisproc.ForTest(t, redisproc.Config{})
	s.Pause()
	if err := redisproc.Ping(s.Addr, 200*time.Millisecond); err == nil {
		t.Fatal("a paused server answered PING")
	}
	s.Resume()
	if err := redisproc.Ping(s.Addr, 5*time.Second); err != nil {
		t.Fatalf("resumed server: %v", err)
	}
}
