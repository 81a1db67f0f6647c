package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A NodeStatus is stored as one string, not as an object of up to ten
// fields: the API server decodes, stores and re-encodes every value of
// status.nodes on every update of the Workflow, so a 1,000-node workflow
// carried some 6,000 values where it now carries 1,000 (and 57 kB
// instead of 134 kB). The form is
//
//	phase|attempts|launched|started|finished[|tag...]
//
// with the empty phase NotStarted, numbers in decimal, zero as nothing,
// started and finished relative to launched when there is a launch (they
// may precede it by a little on a busy host, so they are signed), and the
// rarer fields as tags: "c" (cached), "m=" map items, "r=" retried map
// items, "d=" dynamicRef, "w=" child workflow, "x=" message. A tag's value
// has "%" and "|" escaped as "%25" and "%7C". Trailing empty fields are
// left out, so a node that has not started is "" and a start node that
// succeeded is "Succeeded"; e.g. "Succeeded|1|1765012345678901234|4012345|4012345".
// Decoding also takes the object form that controllers before this one
// wrote (records of older runs hold it).

// MarshalJSON encodes the status in its compact form.
func (s NodeStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.compact())
}

func (s NodeStatus) compact() string {
	rel := func(v int64) string {
		switch {
		case v == 0:
			return ""
		case s.Launched != 0:
			return strconv.FormatInt(v-s.Launched, 10)
		}
		return strconv.FormatInt(v, 10)
	}
	num := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	fields := []string{string(s.Phase), num(int64(s.Attempts)), num(s.Launched), rel(s.Started), rel(s.Finished)}
	var tags []string
	if s.Cached {
		tags = append(tags, "c")
	}
	if s.Map != nil {
		tags = append(tags, "m="+escapeTag(s.Map.Items))
		if s.Map.Retried != "" {
			tags = append(tags, "r="+escapeTag(s.Map.Retried))
		}
	}
	for _, t := range []struct{ key, v string }{{"d", s.DynamicRef}, {"w", s.Child}, {"x", s.Message}} {
		if t.v != "" {
			tags = append(tags, t.key+"="+escapeTag(t.v))
		}
	}
	if len(tags) == 0 {
		for len(fields) > 0 && fields[len(fields)-1] == "" {
			fields = fields[:len(fields)-1]
		}
	}
	return strings.Join(append(fields, tags...), "|")
}

// UnmarshalJSON decodes the compact form, or the object form of older
// controllers.
func (s *NodeStatus) UnmarshalJSON(data []byte) error {
	if b := bytes.TrimSpace(data); len(b) > 0 && b[0] == '{' {
		type object NodeStatus // the struct's own fields, without these methods
		var o object
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*s = NodeStatus(o)
		return nil
	}
	var str string
	if err := json.Unmarshal(data, &str); err != nil {
		return fmt.Errorf("node status: %w", err)
	}
	st, err := parseNodeStatus(str)
	if err != nil {
		return fmt.Errorf("node status %q: %w", str, err)
	}
	*s = st
	return nil
}

func parseNodeStatus(str string) (NodeStatus, error) {
	var s NodeStatus
	if str == "" {
		return s, nil
	}
	parts := strings.Split(str, "|")
	pos, tags := parts, []string(nil)
	if len(parts) > 5 {
		pos, tags = parts[:5], parts[5:]
	}
	num := func(i int, what string, bits int) (int64, error) {
		if i >= len(pos) || pos[i] == "" {
			return 0, nil
		}
		v, err := strconv.ParseInt(pos[i], 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		return v, nil
	}
	s.Phase = NodePhase(pos[0])
	switch s.Phase {
	case NodeNotStarted, NodeQueued, NodeRunning, NodeSucceeded, NodeFailed, NodeSkipped, NodeAborted:
	default:
		return s, fmt.Errorf("unknown phase %q", s.Phase)
	}
	attempts, err := num(1, "attempts", 32)
	if err != nil {
		return s, err
	}
	s.Attempts = int32(attempts)
	if s.Launched, err = num(2, "launched", 64); err != nil {
		return s, err
	}
	for i, dst := range []*int64{&s.Started, &s.Finished} {
		v, err := num(3+i, []string{"started", "finished"}[i], 64)
		if err != nil {
			return s, err
		}
		if 3+i < len(pos) && pos[3+i] != "" && s.Launched != 0 {
			v += s.Launched // relative, and "0" is the launch itself
		}
		*dst = v
	}
	for _, t := range tags {
		key, val, _ := strings.Cut(t, "=")
		if key == "c" {
			s.Cached = true
			continue
		}
		v, err := unescapeTag(val)
		if err != nil {
			return s, fmt.Errorf("tag %s: %w", key, err)
		}
		switch key {
		case "m":
			if s.Map == nil {
				s.Map = &MapStatus{}
			}
			s.Map.Items = v
		case "r":
			if s.Map == nil {
				s.Map = &MapStatus{}
			}
			s.Map.Retried = v
		case "d":
			s.DynamicRef = v
		case "w":
			s.Child = v
		case "x":
			s.Message = v
		default:
			return s, fmt.Errorf("unknown tag %q", key)
		}
	}
	return s, nil
}

var tagEscaper = strings.NewReplacer("%", "%25", "|", "%7C")

func escapeTag(v string) string { return tagEscaper.Replace(v) }

func unescapeTag(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case strings.HasPrefix(v[i:], "%25"):
			b.WriteByte('%')
		case strings.HasPrefix(v[i:], "%7C"):
			b.WriteByte('|')
		default:
			return "", fmt.Errorf("bad escape at %d in %q", i, v)
		}
		i += 2
	}
	return b.String(), nil
}
