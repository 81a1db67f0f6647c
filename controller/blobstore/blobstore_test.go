package blobstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/benchctl/benchctl/controller/obs"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, url string
		cache     int64
	}{
		{"mem no cache", "mem://", 0},
		{"mem cached", "mem://", 1 << 20},
		{"file cached", "file://" + dir + "?create_dir=1&no_tmp_dir=1", 1 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			m := obs.NewMetrics()
			s, err := Open(ctx, tt.url, tt.cache, obs.NewTelemetry(nil, m))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Read(ctx, "ns/wf/missing", "outputs"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing key: err = %v, want ErrNotFound", err)
			}
			data := bytes.Repeat([]byte("x"), 1000)
			if err := s.Write(ctx, "ns/wf/n0/outputs", "outputs", data); err != nil {
				t.Fatal(err)
			}
			got, err := s.Read(ctx, "ns/wf/n0/outputs", "outputs")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, err %v", len(got), err)
			}
			if n := testutil.CollectAndCount(m.BlobOperation); n != 2 {
				t.Fatalf("blob op series = %d, want 2 (read, write)", n)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "ns/wf/n0/outputs")); err != nil {
		t.Fatalf("file bucket did not write through: %v", err)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU(10)
	c.put("a", []byte("aaaa"))
	c.put("b", []byte("bbbb"))
	if _, ok := c.get("a"); !ok { // a is now most recent
		t.Fatal("a evicted early")
	}
	c.put("c", []byte("cccc")) // 12 > 10: evicts b, the least recent
	if _, ok := c.get("b"); ok {
		t.Fatal("b should be evicted")
	}
	if _, ok := c.get("a"); !ok {
		t.Fatal("a should stay")
	}
	c.put("big", make([]byte, 11))
	if _, ok := c.get("big"); ok {
		t.Fatal("value over capacity must not be cached")
	}
	c.put("a", []byte("a")) // replace shrinks
	if c.size != 5 {
		t.Fatalf("size = %d, want 5", c.size)
	}
}
