// Package blobstore is the controller's data plane: a gocloud.dev/blob
// bucket (file://, mem://, s3://, gs://) behind a byte-bounded write-through
// cache, with a blob.read or blob.write span and a latency observation for
// every operation that reaches the bucket or the cache.
package blobstore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// URLs
	_ "gocloud.dev/blob/gcsblob"  // gs:// URLs
	_ "gocloud.dev/blob/memblob"  // mem:// URLs
	_ "gocloud.dev/blob/s3blob"   // s3:// URLs
	"gocloud.dev/gcerrors"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/obs"
)

// ErrNotFound is returned by Read for a key that does not exist.
var ErrNotFound = errors.New("blob not found")

// Store reads and writes blobs by key.
type Store struct {
	url    string
	bucket *blob.Bucket
	tel    *obs.Telemetry
	cache  *lru
}

// Open opens the bucket at url with a write-through cache of cacheBytes
// (0 disables it).
func Open(ctx context.Context, url string, cacheBytes int64, tel *obs.Telemetry) (*Store, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open blobstore %s: %w", url, err)
	}
	s := &Store{url: url, bucket: b, tel: tel}
	if cacheBytes > 0 {
		s.cache = newLRU(cacheBytes)
	}
	return s, nil
}

// URL is the bucket URL the store was opened with (what benchtask needs).
func (s *Store) URL() string { return s.url }

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Write stores data under key, in the bucket and then in the cache.
func (s *Store) Write(ctx context.Context, key, purpose string, data []byte) error {
	ctx, span := s.tel.Start(ctx, telemetry.SpanBlobWrite,
		attribute.String(telemetry.AttrBlobPurpose, purpose), attribute.Int(telemetry.AttrBlobBytes, len(data)))
	start := time.Now()
	err := s.bucket.WriteAll(ctx, key, data, nil)
	s.tel.Metrics.BlobOperation.WithLabelValues("write").Observe(time.Since(start).Seconds())
	if err != nil {
		err = fmt.Errorf("write blob %s: %w", key, err)
	} else if s.cache != nil {
		s.cache.put(key, data)
	}
	obs.End(span, err)
	return err
}

// Read returns the blob under key, from the cache when it holds it. A
// missing key is ErrNotFound. Callers must not modify the result.
func (s *Store) Read(ctx context.Context, key, purpose string) ([]byte, error) {
	ctx, span := s.tel.Start(ctx, telemetry.SpanBlobRead, attribute.String(telemetry.AttrBlobPurpose, purpose))
	start := time.Now()
	var (
		data []byte
		err  error
		hit  bool
	)
	if s.cache != nil {
		data, hit = s.cache.get(key)
	}
	if !hit {
		data, err = s.bucket.ReadAll(ctx, key)
		if err != nil {
			if gcerrors.Code(err) == gcerrors.NotFound {
				err = fmt.Errorf("read blob %s: %w", key, ErrNotFound)
			} else {
				err = fmt.Errorf("read blob %s: %w", key, err)
			}
		} else if s.cache != nil {
			s.cache.put(key, data)
		}
	}
	s.tel.Metrics.BlobOperation.WithLabelValues("read").Observe(time.Since(start).Seconds())
	span.SetAttributes(attribute.Int(telemetry.AttrBlobBytes, len(data)), attribute.Bool("cache.hit", hit))
	if errors.Is(err, ErrNotFound) {
		span.End() // an expected outcome (catalog misses), not a span error
	} else {
		obs.End(span, err)
	}
	return data, err
}

// lru is a byte-bounded least-recently-used cache. Values larger than the
// capacity are not cached.
type lru struct {
	mu    sync.Mutex
	cap   int64
	size  int64
	order *list.List // front = most recent
	items map[string]*list.Element
}

type lruEntry struct {
	key  string
	data []byte
}

func newLRU(capacity int64) *lru {
	return &lru{cap: capacity, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*lruEntry).data, true
}

func (c *lru) put(key string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.size -= int64(len(el.Value.(*lruEntry).data))
		c.order.Remove(el)
		delete(c.items, key)
	}
	if int64(len(data)) > c.cap {
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry{key: key, data: data})
	c.size += int64(len(data))
	for c.size > c.cap {
		el := c.order.Back()
		e := el.Value.(*lruEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.data))
	}
}
