//go:build !js

package realtime

import (
	"net/http"
	"strconv"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// handlePublish appends a wire.PublishRequest and answers its
// wire.PublishReply. An Idempotency-Key header makes a retry safe: a
// repeat within broker.IdempotencyWindow answers the first reply (with
// Repeat set) and appends nothing.
func (h *Handler) handlePublish(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) { // refuses untrusted origins: no cross-site publishing
		return
	}
	id, ok := h.authenticate(w, r)
	if !ok {
		return
	}
	var req wire.PublishRequest
	if !httpx.DecodeJSON(w, r, h.cfg.MaxBody, &req) || !h.authorize(w, r, id, req.Topic, Publish) {
		return
	}
	drafts := req.Messages
	if drafts == nil {
		drafts = []wire.Draft{{Type: req.Type, Data: req.Data}}
	}
	if len(drafts) == 0 || len(drafts) > h.cfg.MaxBatch {
		httpx.WriteError(w, http.StatusBadRequest, "messages: want 1 to "+strconv.Itoa(h.cfg.MaxBatch))
		return
	}
	for i := range drafts {
		drafts[i].Data = h.stamp(req.Topic, wire.Member{User: id.User}, drafts[i].Data)
	}
	opts := broker.PublishOptions{IdempotencyKey: r.Header.Get("Idempotency-Key")}
	if opts.IdempotencyKey != "" && !broker.ValidKey(opts.IdempotencyKey) {
		httpx.WriteError(w, http.StatusBadRequest, "Idempotency-Key: want 1-128 printable ASCII characters")
		return
	}
	rec, err := h.broker.Publish(r.Context(), req.Topic, drafts, opts)
	if err != nil {
		writeBrokerError(w, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, wire.PublishReply{Cursor: rec.Cursor, Count: rec.Count, Repeat: rec.Repeat})
}
