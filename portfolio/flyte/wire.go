package flyte

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Int64 is a proto int64 or uint32 in JSON: protojson writes 64-bit
// integers as strings and 32-bit ones as numbers; both decode, and it
// encodes as a string, which Admin accepts for either.
type Int64 int64

func (i Int64) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(i), 10) + `"`), nil
}

func (i *Int64) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		return nil
	}
	s = strings.Trim(s, `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*i = Int64(n)
	return nil
}

// Duration is a google.protobuf.Duration in JSON: "1.500s".
type Duration time.Duration

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes protojson's form: seconds with 0, 3, 6 or 9
// fractional digits.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + formatDuration(time.Duration(d)) + `"`), nil
}

func formatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	sec, ns := int64(d/time.Second), int64(d%time.Second)
	switch {
	case ns == 0:
		return fmt.Sprintf("%s%ds", sign, sec)
	case ns%1e6 == 0:
		return fmt.Sprintf("%s%d.%03ds", sign, sec, ns/1e6)
	case ns%1e3 == 0:
		return fmt.Sprintf("%s%d.%06ds", sign, sec, ns/1e3)
	}
	return fmt.Sprintf("%s%d.%09ds", sign, sec, ns)
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"1.5s\"", b)
	}
	if !strings.HasSuffix(s, "s") {
		return fmt.Errorf("duration %q: want seconds with an s suffix", s)
	}
	// Parse the decimal exactly rather than through a float: a duration
	// of 0.1s must add to a timestamp without a rounding error.
	num := strings.TrimSuffix(s, "s")
	neg := strings.HasPrefix(num, "-")
	num = strings.TrimPrefix(num, "-")
	whole, frac, _ := strings.Cut(num, ".")
	if len(frac) > 9 {
		return fmt.Errorf("duration %q: more than 9 fractional digits", s)
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64); err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
	}
	v := time.Duration(sec)*time.Second + time.Duration(ns)
	if neg {
		v = -v
	}
	*d = Duration(v)
	return nil
}
