// Package redact masks credentials in values before they enter a report,
// a deployment record or a log line: passwords in URLs and DSNs,
// credential query parameters of blob URLs (s3://bucket?access_key=...),
// bearer and basic tokens, values of credential-named keys, and a few
// token formats recognisable on their own (GitHub, AWS access key IDs,
// JWTs). What is masked becomes Mask; everything else is kept byte for
// byte, so a redacted URL still says which store and host it names.
//
// Redaction is a safety net for values that should never have held a
// secret, not a way to store secrets: it recognises common spellings
// only.
package redact

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Mask replaces what is redacted (the same as net/url's Redacted).
const Mask = "xxxxx"

var (
	// reURL matches a URL with a scheme, up to whitespace or a quote.
	reURL = regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)
	// reAuthHeader matches an Authorization header's value after its
	// scheme ("Authorization: token ghp_..."), reScheme a bearer or basic
	// credential on its own.
	reAuthHeader = regexp.MustCompile(`(?i)(\bauthorization"?\s*[:=]\s*"?(?:[A-Za-z]+\s+)?)([^\s",;]+)`)
	reScheme     = regexp.MustCompile(`\b((?:[Bb]earer|Basic)\s+)([A-Za-z0-9\-._~+/]{8,}=*)`)
	// reKeyValue matches key=value, key: value and "key": "value" where
	// the key names a credential (password=, db_password:, "secretKey": ...).
	reKeyValue = regexp.MustCompile(`(?i)(\b[\w.-]*` + credentialWords + `"?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s&;,"'}\]]+)`)
	// reToken matches tokens recognisable without a key: GitHub tokens,
	// AWS access key IDs and JWTs.
	reToken = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|(?:AKIA|ASIA)[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+)`)
)

// credentialWords are the endings of key names that hold a credential,
// as a regular expression (case-insensitive where used).
const credentialWords = `(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|credentials?|signature|sig)`

// reCredentialKey matches a whole key name that holds a credential.
var reCredentialKey = regexp.MustCompile(`(?i)^[\w.-]*` + credentialWords + `$`)

// CredentialKey says whether a key (a values key, a query parameter, a
// DSN keyword) names a credential: it ends in password, secret, token,
// api_key, access_key, secret_key, private_key, credential(s),
// signature or sig, in any case and with - or _ between words.
func CredentialKey(key string) bool { return reCredentialKey.MatchString(key) }

// String returns s with every credential it holds masked: the password
// of a URL's userinfo, credential query parameters of URLs, the values of
// credential keywords (password=, "token": ...), bearer and basic
// credentials and recognisable tokens. It is idempotent.
func String(s string) string {
	if s == "" {
		return s
	}
	s = reURL.ReplaceAllStringFunc(s, url)
	s = reAuthHeader.ReplaceAllString(s, "${1}"+Mask)
	s = reScheme.ReplaceAllString(s, "${1}"+Mask)
	s = reKeyValue.ReplaceAllStringFunc(s, keyValue)
	s = reToken.ReplaceAllString(s, Mask)
	return s
}

// keyValue masks the value of one reKeyValue match, keeping its quotes.
func keyValue(m string) string {
	sub := reKeyValue.FindStringSubmatch(m)
	key, v := sub[1], sub[2]
	if v == Mask || v == `"`+Mask+`"` || v == `'`+Mask+`'` {
		return m
	}
	if q := v[0]; q == '"' || q == '\'' {
		return key + string(q) + Mask + string(q)
	}
	return key + Mask
}

// url masks a URL's userinfo password and credential query parameters,
// textually, so that what is kept keeps its spelling (url.URL.String
// would re-encode it).
func url(u string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, pass, ok := strings.Cut(authority[:at], ":"); ok && pass != "" && pass != Mask {
			authority = user + ":" + Mask + authority[at:]
		}
	}
	path, query, hasQuery := strings.Cut(tail, "?")
	if hasQuery {
		frag := ""
		if i := strings.Index(query, "#"); i >= 0 {
			query, frag = query[:i], query[i:]
		}
		params := strings.Split(query, "&")
		for i, p := range params {
			k, _, ok := strings.Cut(p, "=")
			if ok && CredentialKey(unescape(k)) {
				params[i] = k + "=" + Mask
			}
		}
		tail = path + "?" + strings.Join(params, "&") + frag
	}
	return scheme + "://" + authority + tail
}

// unescape undoes the %XX escapes of a query key, for matching it.
func unescape(k string) string {
	if !strings.Contains(k, "%") {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '%' && i+2 < len(k) {
			var c byte
			if _, err := fmt.Sscanf(k[i+1:i+3], "%02x", &c); err == nil {
				b.WriteByte(c)
				i += 2
				continue
			}
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// Values returns a deep copy of a values tree (as Helm and the
// controller's config decode them) with every credential masked: the
// string value of a credential-named key whole, and credentials inside
// any other string (a URL's password, a DSN's password=) as String masks
// them. Other values are copied as they are.
func Values(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	return value("", v).(map[string]any)
}

func value(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = value(k, e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = value(key, e)
		}
		return out
	case string:
		if v != "" && CredentialKey(key) {
			return Mask
		}
		return String(v)
	}
	return v
}

// Strings returns a copy of m (provider options, labels) with every
// credential masked, as Values masks a values tree.
func Strings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = value(k, v).(string)
	}
	return out
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that masks credentials
// in every attribute, the message included: strings, errors, and other
// values as they print.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		s := a.Value.String()
		if CredentialKey(a.Key) && s != "" {
			return slog.String(a.Key, Mask)
		}
		if r := String(s); r != s {
			return slog.String(a.Key, r)
		}
	case slog.KindAny:
		v := a.Value.Any()
		if m, ok := v.(map[string]any); ok {
			return slog.Any(a.Key, Values(m))
		}
		s := fmt.Sprint(v)
		if err, ok := v.(error); ok {
			s = err.Error()
		}
		if CredentialKey(a.Key) && s != "" {
			return slog.String(a.Key, Mask)
		}
		if r := String(s); r != s {
			return slog.String(a.Key, r)
		}
	}
	return a
}
