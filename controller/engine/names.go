package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// maxPodName keeps pod names valid hostnames (DNS-1123 labels).
const maxPodName = 63

// PodName is the deterministic name of the pod of one attempt of a node
// (item < 0) or of a map item. The same inputs always give the same name,
// which is what makes launches idempotent across controller restarts: a
// second create of the same attempt fails with AlreadyExists and the
// controller adopts the pod. When the readable form is lossy (characters
// replaced) or too long, a hash of the exact identity is appended so that
// distinct attempts never share a name.
func PodName(workflow, node string, item int, attempt int32) string {
	var b strings.Builder
	b.WriteString(workflow)
	b.WriteByte('-')
	b.WriteString(node)
	if item >= 0 {
		fmt.Fprintf(&b, "-%d", item)
	}
	fmt.Fprintf(&b, "-%d", attempt)
	return boundedName(b.String(), fmt.Sprintf("%s\x00%s\x00%d\x00%d", workflow, node, item, attempt))
}

// ChildName is the deterministic name of the child Workflow of a
// launch-plan node: a second create after a restart or a lost update fails
// with AlreadyExists and the controller adopts the child. It stays within
// 63 characters because it is also the workflow label of the child's pods.
func ChildName(parent, node string) string {
	return boundedName(parent+"-"+node, parent+"\x00"+node+"\x00child")
}

// boundedName returns raw if it is already a valid name of at most 63
// characters, else its sanitized, shortened form with a hash of identity
// appended, so that distinct identities never share a name.
func boundedName(raw, identity string) string {
	clean := sanitize(raw)
	if clean == raw && len(clean) <= maxPodName {
		return clean
	}
	sum := sha256.Sum256([]byte(identity))
	suffix := hex.EncodeToString(sum[:])[:10]
	keep := maxPodName - len(suffix) - 1
	if len(clean) > keep {
		clean = strings.TrimRight(clean[:keep], "-")
	}
	return clean + "-" + suffix
}

// sanitize maps s onto [a-z0-9-], trimmed of leading and trailing dashes.
func sanitize(s string) string {
	out := []byte(strings.ToLower(s))
	for i, c := range out {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			out[i] = '-'
		}
	}
	return strings.Trim(string(out), "-")
}

// labelValue makes s a valid label value (at most 63 characters of
// [A-Za-z0-9-_.], alphanumeric at both ends), hashing when it must cut.
func labelValue(s string) string {
	out := []byte(s)
	for i, c := range out {
		ok := c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			out[i] = '.'
		}
	}
	v := strings.Trim(string(out), "-_.")
	if len(v) > 63 {
		sum := sha256.Sum256([]byte(s))
		v = strings.Trim(v[:52], "-_.") + "-" + hex.EncodeToString(sum[:])[:10]
	}
	return v
}
