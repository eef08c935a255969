//go:build js && wasm

package upload_test

import (
	"context"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/upload"
	"github.com/cometwasm/comet/wasm/xhr"
)

func ExampleNew() {
	input := js.Global().Get("document").Call("querySelector", "input[type=file]")
	file, err := xhr.BlobOf(input.Get("files").Index(0))
	if err != nil {
		return
	}
	ctx := context.Background()
	u, err := upload.New(ctx, file, &upload.Config{
		OnProgress: func(sent, total int64) { println(sent * 100 / max(total, 1)) },
	})
	if err != nil {
		return
	}
	if err := u.Send(ctx); err != nil {
		// Keep u.ID(): upload.Resume(ctx, id, file, nil) continues later.
		println(err.Error())
	}
}
