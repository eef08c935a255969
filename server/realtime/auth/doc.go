//go:build !js

// Package auth is the token implementation of realtime.Authorizer: every
// request carries a JWT (HS256) whose "sub" is the user id, and topic rules
// say who may subscribe and publish where.
//
// Use Tokens as realtime.Config.Auth; LoadRules reads rules from a JSON
// file; Tokens.Issue signs a token (for an application's login endpoint,
// and tests).
//
// # Tokens
//
// A request carries its token in "Authorization: Bearer TOKEN" where the
// client can set headers (XHR, publish), or in the "token" query parameter
// where it cannot (EventSource, WebSocket). A request that carries two
// different tokens is refused. The token must be signed with HS256 by
// Tokens.Secret ("alg": "none" and every other algorithm are refused),
// must have "sub" and "exp", and may narrow its own permissions with
// "subscribe" and "publish": lists of topic patterns. A missing, expired,
// malformed, oversized (MaxTokenBytes) or wrongly signed token gets 401
// with a JSON reason, before any stream slot is taken. A stream that
// outlives its token's exp is closed; the client reconnects with a fresh
// token and resumes from its cursors.
//
// # Rules
//
// Rules are tried in order; the first whose Pattern matches the topic
// decides. A Pattern is a topic name, or a prefix ending in "*"; "{sub}"
// stands for the token's user id, so "user:{sub}:*" matches only the
// user's own topics (a user id with ":" or "/" matches no "{sub}"
// pattern, so user "a" cannot reach the topics of "a:b"). Subscribe and Publish say who may: "anyone" (with
// Anonymous, also requests without a token), "users" (any valid token) or
// "nobody". A topic no rule matches is forbidden. A token's own
// "subscribe"/"publish" patterns can only narrow the rules, never widen
// them. Example (the demo's rules):
//
//	[{"pattern":"user:{sub}:*","subscribe":"users","publish":"users"},
//	 {"pattern":"user:*","subscribe":"nobody","publish":"nobody"},
//	 {"pattern":"clock","subscribe":"anyone","publish":"nobody"},
//	 {"pattern":"*","subscribe":"users","publish":"users"}]
package auth
