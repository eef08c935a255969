//go:build js && wasm

package xhr

// withQuery appends q to rawURL, encoded like encodeURIComponent (a space
// is %20, not +), keys sorted, before any #fragment.
func withQuery(rawURL string, q map[string][]string) string {
	if len(q) == 0 {
		return rawURL
	}
	frag := ""
	if i := indexByte(rawURL, '#'); i >= 0 {
		rawURL, frag = rawURL[:i], rawURL[i:]
	}
	sep := byte('?')
	if indexByte(rawURL, '?') >= 0 {
		sep = '&'
		if last := rawURL[len(rawURL)-1]; last == '?' || last == '&' {
			sep = 0
		}
	}
	return string(append(appendQuery([]byte(rawURL), sep, q, false), frag...))
}

// EncodeURIComponent escapes s like JavaScript's encodeURIComponent:
// everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded as UTF-8.
func EncodeURIComponent(s string) string { return string(escape(nil, s, false)) }

// encodeForm is url.Values.Encode (keys sorted, escaped like url.QueryEscape), without
// net/url, whose init alone costs the core packages ~200 KB. It sorts with
// sortStrings: slices.Sort, which Encode uses, is about 24 KB of wasm.
func encodeForm(v map[string][]string) string {
	return string(appendQuery(nil, 0, v, true))
}

// appendQuery appends q's pairs to b, keys sorted, joined by '&', the
// first preceded by sep unless it is 0; escaped as escape does. One copy
// for withQuery and encodeForm.
func appendQuery(b []byte, sep byte, q map[string][]string, form bool) []byte {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sortStrings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			if sep != 0 {
				b = append(b, sep)
			}
			sep = '&'
			b = escape(b, k, form)
			b = append(b, '=')
			b = escape(b, v, form)
		}
	}
	return b
}

// escape appends s to b percent-encoded: like encodeURIComponent, or,
// if form, like url.QueryEscape (only A-Z a-z 0-9 - _ . ~ are kept, and
// a space is +).
func escape(b []byte, s string, form bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~':
			b = append(b, c)
		case form && c == ' ':
			b = append(b, '+')
		case !form && (c == '!' || c == '*' || c == '\'' || c == '(' || c == ')'):
			b = append(b, c)
		default:
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// indexByte is strings.IndexByte, which would link package strings and
// with it Unicode's tables.
func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
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

// siftDown is not inlined: one copy for sortStrings' two loops.
//
//go:noinline
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
