//go:build js && wasm

// Package message is cross-document messaging (Web Messaging) for Go
// WebAssembly: window.postMessage with a required target origin, and a
// listener that delivers only messages from the origins it trusts.
//
// Use Parent, Self or Frame to get a Target, and Target.Post to send text to
// it. Use Listen to receive: Next returns the next message from an allowed
// origin; every other message is dropped before Go code sees its data, and
// reported on Options.Rejected if set.
//
// See https://developer.mozilla.org/en-US/docs/Web/API/Window/postMessage
// and https://developer.mozilla.org/en-US/docs/Web/API/Window/message_event.
//
// # Target origin
//
// Post refuses "*": a message sent with "*" goes to whatever page the target
// window shows at that moment, which may have navigated elsewhere. Pass the
// exact origin ("https://example.com:8443") or "/" for the sender's own
// origin. If the target's origin does not match, the browser drops the
// message silently; Post cannot report that.
//
// # Trust
//
// A listener checks event.origin, which the browser sets and a sender cannot
// fake. Events dispatched by script (isTrusted false) can claim any origin;
// they are rejected unless Options.AllowUntrusted is set.
//
// # Data
//
// Messages carry text. A structured-clone value sent by other code arrives
// as its JSON text (empty if it has no JSON form).
package message
