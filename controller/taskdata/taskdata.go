// Package taskdata defines the data that flows between nodes: the inputs
// document the controller writes for each node, the deterministic output
// payload that benchtask (or the controller, when outputs are simulated)
// writes, and the manifest a map node leaves. Both the controller and
// benchtask use it, so real and simulated pods produce the same bytes.
package taskdata

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// Upstream is one upstream node's outputs as read by the controller.
type Upstream struct {
	Node string `json:"node"`
	// Key is where the outputs were read from; it is not part of the hash
	// (it names the execution, and the cache must work across executions).
	Key    string `json:"key"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Inputs is what the controller writes as a node's inputs.
type Inputs struct {
	// Workflow holds the workflow's inputs (root nodes only).
	Workflow map[string]string `json:"workflow,omitempty"`
	Upstream []Upstream        `json:"upstream,omitempty"`
	// Item is the map item index, or -1.
	Item int `json:"item"`
}

// Hash is the inputs' content hash, independent of where the data lives.
func (in Inputs) Hash() string {
	h := sha256.New()
	keys := make([]string, 0, len(in.Workflow))
	for k := range in.Workflow {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "w\x00%s\x00%s\x00", k, in.Workflow[k])
	}
	ups := slices.Clone(in.Upstream)
	slices.SortFunc(ups, func(a, b Upstream) int {
		if a.Node < b.Node {
			return -1
		}
		if a.Node > b.Node {
			return 1
		}
		return 0
	})
	for _, u := range ups {
		fmt.Fprintf(h, "u\x00%s\x00%d\x00%s\x00", u.Node, u.Bytes, u.SHA256)
	}
	fmt.Fprintf(h, "i\x00%d", in.Item)
	return hex.EncodeToString(h.Sum(nil))
}

// ItemHash derives a map item's input hash from its node's.
func ItemHash(nodeHash string, item int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00item\x00%d", nodeHash, item))
	return hex.EncodeToString(sum[:])
}

// Marshal encodes the document.
func (in Inputs) Marshal() []byte {
	b, _ := json.Marshal(in) // plain strings and ints: cannot fail
	return b
}

// Digest is the hex SHA-256 of data.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Payload returns a task's outputs: size bytes derived from seed (the
// task's input hash), so equal inputs give equal outputs and the catalog's
// copies are indistinguishable from a rerun.
func Payload(seed string, size int64) []byte {
	out := make([]byte, size)
	fillPattern(out, seed)
	return out
}

// WritePayload streams the same bytes as Payload to w without holding them
// in memory.
func WritePayload(w io.Writer, seed string, size int64) error {
	// 1 MiB is a multiple of the 64-byte pattern, so every chunk starts in
	// phase.
	chunk := make([]byte, min(size, 1<<20))
	fillPattern(chunk, seed)
	for off := int64(0); off < size; {
		n := min(int64(len(chunk)), size-off)
		if _, err := w.Write(chunk[:n]); err != nil {
			return fmt.Errorf("write payload: %w", err)
		}
		off += n
	}
	return nil
}

// patternOf is the 64-byte block the payload repeats.
func patternOf(seed string) []byte {
	sum := sha256.Sum256([]byte("benchctl-payload\x00" + seed))
	return []byte(hex.EncodeToString(sum[:]))
}

func fillPattern(out []byte, seed string) {
	pat := patternOf(seed)
	for i := 0; i < len(out); i += len(pat) {
		copy(out[i:], pat)
	}
}

// MapManifest is a map node's outputs: a summary of its items' outputs.
type MapManifest struct {
	Items     int `json:"items"`
	Succeeded int `json:"succeeded"`
	// SHA256 hashes the items' output digests in item order (failed items
	// contribute an empty digest).
	SHA256 string `json:"sha256"`
}

// Marshal encodes the manifest.
func (m MapManifest) Marshal() []byte {
	b, _ := json.Marshal(m)
	return b
}
