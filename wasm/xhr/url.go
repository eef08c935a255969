//go:build js && wasm

package xhr

import "strings"

// withQuery appends q to rawURL, encoded like encodeURIComponent (a space
// is %20, not +), keys sorted, before any #fragment.
func withQuery(rawURL string, q map[string][]string) string {
	if len(q) == 0 {
		return rawURL
	}
	frag := ""
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL, frag = rawURL[:i], rawURL[i:]
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var b strings.Builder
	b.WriteString(rawURL)
	sep := byte('?')
	if strings.IndexByte(rawURL, '?') >= 0 {
		sep = '&'
		if strings.HasSuffix(rawURL, "?") || strings.HasSuffix(rawURL, "&") {
			sep = 0
		}
	}
	for _, k := range keys {
		for _, v := range q[k] {
			if sep != 0 {
				b.WriteByte(sep)
			}
			sep = '&'
			b.WriteString(EncodeURIComponent(k))
			b.WriteByte('=')
			b.WriteString(EncodeURIComponent(v))
		}
	}
	return b.String() + frag
}

// EncodeURIComponent escapes s like JavaScript's encodeURIComponent:
// everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded as UTF-8.
func EncodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// encodeForm is url.Values.Encode (keys sorted, QueryEscape'd), without
// net/url, whose init alone costs the core packages ~200 KB. It sorts with
// sortStrings: slices.Sort, which Encode uses, is about 24 KB of wasm.
func encodeForm(v map[string][]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var b strings.Builder
	for _, k := range keys {
		ke := queryEscape(k)
		for _, x := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(ke)
			b.WriteByte('=')
			b.WriteString(queryEscape(x))
		}
	}
	return b.String()
}

// queryEscape is url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ is
// percent-encoded, and a space is +.
func queryEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// sortStrings sorts a in increasing order: a heap sort, small in code.
func sortStrings(a []string) {
	n := len(a)
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(a, i, n)
	}
	for i := n - 1; i > 0; i-- {
		a[0], a[i] = a[i], a[0]
		siftDown(a, 0, i)
	}
}

func siftDown(a []string, root, n int) {
	for {
		c := 2*root + 1
		if c >= n {
			return
		}
		if c+1 < n && a[c] < a[c+1] {
			c++
		}
		if a[root] >= a[c] {
			return
		}
		a[root], a[c] = a[c], a[root]
		root = c
	}
}
