//go:build !js

package main

import (
	"unicode"
	"unicode/utf8"
)

// The demo chat (wasm/demo/chat.go, seed 001: socket.io's login, chat,
// rooms and forceDisconnect) runs on realtime sessions, like every other
// topic of the page; the server has no chat protocol of its own, only the
// chat's topics and rules:
//
//   - a room is the topic "chat:ROOM"; its presence is the session's;
//   - a private message goes to "dm:USER", which only USER may follow
//     (the demo's rules with -token-secret-file, realtime.go) and any signed-in user may
//     write to;
//   - both are sender topics (realtime.Config.SenderTopics): a client's
//     publish is stored as {"from":MEMBER,"data":D}, the member being the
//     publishing session's (for a signed-in user "u."+user), so no client
//     can write a line in another's name;
//   - a message is a publish with an idempotency key: stored exactly once
//     whatever the connection does.
//
// The former GET /ws/chat protocol is retired: everything it did is a
// topic, a presence event or a client-side filter now (README, "Chat").
const (
	topicChatRooms = "chat:*"
	topicChatDM    = "dm:*"
)

// validName: 1-64 printable characters (the demo's user names).
func validName(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
