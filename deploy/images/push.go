package images

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes every image to its Ref: the image manifest for one
// platform, the index (and every platform's image) for several.
// Credentials come from authn.DefaultKeychain (~/.docker/config.json and
// its credential helpers, as docker and crane use them); extra options
// (a transport, say) are appended.
func (r *Result) Push(ctx context.Context, opts ...remote.Option) error {
	base := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("benchctl"),
	}
	opts = append(base, opts...)
	for _, img := range r.Images {
		var nopts []name.Option
		if r.insecure {
			nopts = append(nopts, name.Insecure)
		}
		ref, err := name.NewTag(img.Ref, nopts...)
		if err != nil {
			return &InputError{Err: fmt.Errorf("image %s: %w", img.Name, err)}
		}
		slog.InfoContext(ctx, "pushing image", "ref", img.Ref, "platforms", len(img.Manifests))
		if img.index != nil {
			err = remote.WriteIndex(ref, img.index, opts...)
		} else {
			err = remote.Write(ref, img.Manifests[0].image, opts...)
		}
		if err != nil {
			return fmt.Errorf("push %s: %w", img.Ref, err)
		}
		img.Pushed = true
		slog.InfoContext(ctx, "pushed image", "ref", img.Ref, "digest", img.Digest)
	}
	return nil
}
