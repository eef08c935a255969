//go:build js && wasm

package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/cometwasm/comet/wasm/upload"
	"github.com/cometwasm/comet/wasm/xhr"
)

// uploadSection sends a file in chunks with wasm/upload. Pause cancels the
// upload; Resume asks the server for its offset and goes on; "Drop the
// connection" aborts the chunk in flight and resumes at once, from what
// the server really has. The server checks the SHA-256 at the end.
func uploadSection(config) *card {
	c := newCard("upload", "Resumable upload",
		"A file goes up in 128 KB chunks. Pause, resume or drop the connection at any point: the upload asks the server how much it has and continues from there. At the end the server checks the SHA-256 computed here.")
	file := input("up-file", "file", "")
	gen := button("up-gen", "Or use a generated 4 MB file", "secondary", nil)
	throttleBox, throttle := checkbox("up-throttle", "Slow link (so you can click in time)", true)
	start := button("up-start", "Upload", "", nil)
	pause := button("up-pause", "Pause", "secondary", nil)
	resume := button("up-resume", "Resume", "secondary", nil)
	drop := button("up-drop", "Drop the connection", "secondary", nil)
	m := newMeter("up-progress", "Uploaded")
	chosen := el("p", "muted", "No file chosen.")
	chosen.SetID("up-chosen")
	result := el("p", "counts", "")
	result.SetID("up-result")
	log := newLog("up-log", "Upload events", 40)
	add(c.body,
		el("div", "row", labelled("File", file), gen),
		chosen,
		el("div", "row", throttleBox),
		el("div", "row", start, pause, resume, drop),
		m.root, result, log.root)

	var mu sync.Mutex
	var blob xhr.Blob
	var up *upload.Upload
	var cancel context.CancelFunc
	var dropping, afterDrop bool
	buttons := func(running bool) {
		start.SetDisabled(running)
		pause.SetDisabled(!running)
		drop.SetDisabled(!running)
		mu.Lock()
		canResume := up != nil && !running
		mu.Unlock()
		resume.SetDisabled(!canResume)
	}
	buttons(false)

	choose := func(b xhr.Blob, name string) {
		mu.Lock()
		blob, up = b, nil
		mu.Unlock()
		chosen.SetTextContent("Ready: " + name + ", " + bytesText(b.Size()) + ".")
		result.SetTextContent("")
		m.reset()
		buttons(false)
	}
	onEvent(file, "change", func() {
		files := file.Files()
		if len(files) == 0 {
			return
		}
		b, err := xhr.BlobOf(files[0].Value)
		if err != nil {
			c.fail(err)
			return
		}
		choose(b, strconv.Quote(b.Name()))
	})
	onClick(gen, func() {
		data := make([]byte, 4<<20)
		for i := 0; i+8 <= len(data); i += 8 {
			v := rand.Uint64()
			for k := range 8 {
				data[i+k] = byte(v >> (8 * k))
			}
		}
		b, err := xhr.NewBlob(data, "application/octet-stream")
		if err != nil {
			c.fail(err)
			return
		}
		choose(b, "4 MB of random bytes")
	})

	// send runs Send until it ends; a drop restarts it at once.
	var send func()
	send = func() {
		mu.Lock()
		u := up
		ctx, stop := context.WithCancel(context.Background())
		cancel = stop
		mu.Unlock()
		defer stop()
		buttons(true)
		err := u.Send(ctx)
		mu.Lock()
		dropped := dropping
		dropping = false
		mu.Unlock()
		switch {
		case err == nil:
			buttons(false)
			resume.SetDisabled(true)
			c.say("ok", "Checksum OK: the server's SHA-256 of the stored file equals the one computed in the browser.")
			result.SetTextContent("checksum OK · sha256 " + u.SHA256()[:16] + "…")
			log.add("ok", "finished; server verified sha256 "+u.SHA256())
		case dropped:
			go send()
		case errors.Is(err, context.Canceled):
			buttons(false)
			c.say("warn", "Paused. The server keeps what it has; Resume continues from there.")
			log.add("", "paused")
		default:
			buttons(false)
			c.fail(err)
			log.add("bad", "stopped: "+plain(err))
		}
	}
	onClick(start, func() {
		mu.Lock()
		b := blob
		mu.Unlock()
		if b.IsZero() {
			c.fail(errors.New("choose a file first, or use the generated one"))
			return
		}
		c.fail(nil)
		start.SetDisabled(true)
		log.clear()
		m.reset()
		c.say("", "Computing the SHA-256 and creating the upload…")
		u, err := upload.New(context.Background(), b, &upload.Config{
			ChunkSize: 128 << 10,
			OnProgress: func(sent, total int64) {
				m.set(sent, total)
				mu.Lock()
				first := afterDrop
				afterDrop = false
				mu.Unlock()
				if first {
					log.add("ok", "the server has "+bytesText(sent)+"; resuming from there")
				}
				if throttle.Checked() {
					time.Sleep(60 * time.Millisecond)
				}
			},
		})
		if err != nil {
			start.SetDisabled(false)
			c.fail(err)
			return
		}
		mu.Lock()
		up = u
		mu.Unlock()
		log.add("", "created upload "+u.ID()+" for "+bytesText(b.Size())+", sha256 "+u.SHA256()[:16]+"…")
		c.say("", "Uploading…")
		send()
	})
	onClick(pause, func() {
		mu.Lock()
		if cancel != nil {
			cancel()
		}
		mu.Unlock()
	})
	onClick(resume, func() {
		c.fail(nil)
		c.say("", "Resuming: asking the server for its offset…")
		mu.Lock()
		afterDrop = true
		mu.Unlock()
		log.add("", "resume")
		send()
	})
	onClick(drop, func() {
		mu.Lock()
		dropping, afterDrop = true, true
		if cancel != nil {
			cancel()
		}
		mu.Unlock()
		log.add("bad", "connection dropped mid-chunk")
		c.say("warn", "Connection dropped; resuming from the server's offset…")
	})
	return c
}
