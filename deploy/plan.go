package deploy

import (
	"github.com/benchctl/benchctl/deploy/images"
	"github.com/benchctl/benchctl/provision"
)

// PlannedImages are the images a deployment on provider would pull, or
// none when its controller runs on this host.
type PlannedImages struct {
	// Build says where they come from: "host" (no images: the
	// controller is a host process), "kind-load" (built here and loaded
	// into kind's nodes) or "push" (pulled from Repo, pushed there first
	// with 'benchctl images push') or "named" (the user's values name
	// every image).
	Build string
	// Repo and Tag name REPO/benchflow:TAG, REPO/benchtask:TAG and
	// REPO/benchadmin:TAG.
	Repo, Tag string
}

// Plan is what Apply would do on a cluster of provider, without one: the
// images it needs and the values it would install with (credentials
// redacted, as in the deployment record). A cloud or existing cluster
// without Options.ImageRepo is the same error Apply would return.
func (p *Prepared) Plan(provider string) (PlannedImages, map[string]any, error) {
	c := &provision.Cluster{Provider: provider}
	vals := copyValues(p.Values)
	switch {
	case c.ControllerOnHost():
		return PlannedImages{Build: "host"}, redactValues(vals), nil
	case provider == provision.ProviderKind && p.Options.ImageRepo == "":
		// loadImages names its archives' images under the default repo.
		if err := setImages(c, images.DefaultRepo, p.Build, vals, p.admin); err != nil {
			return PlannedImages{}, nil, err
		}
		return PlannedImages{Build: "kind-load", Repo: images.DefaultRepo, Tag: p.Build.Commit}, redactValues(vals), nil
	}
	if err := setImages(c, p.Options.ImageRepo, p.Build, vals, p.admin); err != nil {
		return PlannedImages{}, nil, configErr(err)
	}
	if p.Options.ImageRepo == "" {
		return PlannedImages{Build: "named"}, redactValues(vals), nil
	}
	return PlannedImages{Build: "push", Repo: p.Options.ImageRepo, Tag: p.Build.Commit}, redactValues(vals), nil
}
