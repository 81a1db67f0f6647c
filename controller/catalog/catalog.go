// Package catalog is the controller's cache catalog: task outputs stored in
// the blobstore under a key made of the task name, its version and a hash
// of its inputs. A hit lets the controller copy outputs instead of running
// a pod.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/benchctl/benchctl/controller/api/telemetry"
	"github.com/benchctl/benchctl/controller/blobstore"
	"github.com/benchctl/benchctl/controller/obs"
)

// Prefix is where catalog entries live in the blobstore.
const Prefix = "catalog"

// Key identifies a cached result.
type Key struct {
	Task      string
	Version   string
	InputHash string
}

// Path is the entry's blob key.
func (k Key) Path() string {
	v := k.Version
	if v == "" {
		v = "_"
	}
	return fmt.Sprintf("%s/%s/%s/%s", Prefix, url.PathEscape(k.Task), url.PathEscape(v), k.InputHash)
}

// Catalog looks results up and stores them.
type Catalog struct {
	store *blobstore.Store
	tel   *obs.Telemetry
}

// New returns a catalog kept in store.
func New(store *blobstore.Store, tel *obs.Telemetry) *Catalog {
	return &Catalog{store: store, tel: tel}
}

// Get returns the cached outputs for k and whether there were any.
func (c *Catalog) Get(ctx context.Context, k Key) ([]byte, bool, error) {
	ctx, span := c.tel.Start(ctx, telemetry.SpanCatalogGet, attribute.String("catalog.key", k.Path()))
	start := time.Now()
	data, err := c.store.Read(ctx, k.Path(), "catalog")
	c.tel.Metrics.CatalogOperation.WithLabelValues("get").Observe(time.Since(start).Seconds())
	hit := err == nil
	switch {
	case hit:
		c.tel.Metrics.CatalogHits.Inc()
	case errors.Is(err, blobstore.ErrNotFound):
		c.tel.Metrics.CatalogMisses.Inc()
		err = nil
	default:
		err = fmt.Errorf("catalog get %s: %w", k.Path(), err)
	}
	span.SetAttributes(attribute.Bool(telemetry.AttrCacheHit, hit))
	obs.End(span, err)
	return data, hit, err
}

// Put stores outputs for k.
func (c *Catalog) Put(ctx context.Context, k Key, outputs []byte) error {
	ctx, span := c.tel.Start(ctx, telemetry.SpanCatalogPut, attribute.String("catalog.key", k.Path()))
	start := time.Now()
	err := c.store.Write(ctx, k.Path(), "catalog", outputs)
	c.tel.Metrics.CatalogOperation.WithLabelValues("put").Observe(time.Since(start).Seconds())
	if err != nil {
		err = fmt.Errorf("catalog put %s: %w", k.Path(), err)
	}
	obs.End(span, err)
	return err
}
