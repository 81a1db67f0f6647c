package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/benchctl/benchctl/cmd/internal/bench"
	"github.com/benchctl/benchctl/portfolio/flyte"
	"github.com/benchctl/benchctl/reports"
)

// engines are what --engine takes.
var engines = []string{reports.EngineBundled, reports.EngineFlyte}

// flyteFlags choose the engine and, for the flyte engine, the Flyte
// deployments to run on.
type flyteFlags struct {
	engine     string
	endpoints  []string
	project    string
	domain     string
	auth       flyte.AuthConfig
	authMode   string
	insecure   bool
	propellers []string
	register   string
}

func (f *flyteFlags) flags(fs *pflag.FlagSet) {
	fs.StringVar(&f.engine, "engine", reports.EngineBundled, "what runs the workflows: bundled (benchctl's controller on --cluster) or flyte (a Flyte deployment, through Flyte Admin)")
	fs.StringArrayVar(&f.endpoints, "flyte-endpoint", nil, "with --engine flyte: Flyte Admin's URL (repeatable, one config each, named by --config in order)")
	fs.StringVar(&f.project, "flyte-project", flyte.DefaultProject, "with --engine flyte: the project of entries that name none")
	fs.StringVar(&f.domain, "flyte-domain", flyte.DefaultDomain, "with --engine flyte: the domain of entries that name none")
	fs.StringVar(&f.authMode, "flyte-auth", "", "with --engine flyte: none, token-file or client-credentials (default: from the flags given)")
	fs.StringVar(&f.auth.TokenFile, "flyte-token-file", "", "with --engine flyte: a file (mode 0600) holding a bearer token, re-read when it changes")
	fs.StringVar(&f.auth.ClientID, "flyte-client-id", "", "with --engine flyte: the OAuth2 client of the client-credentials grant (token endpoint discovered from Admin)")
	fs.StringVar(&f.auth.ClientSecretFile, "flyte-client-secret-file", "", "with --engine flyte: a file (mode 0600) holding the client secret")
	fs.StringVar(&f.auth.ClientSecretEnv, "flyte-client-secret-env", "", "with --engine flyte: the environment variable holding the client secret")
	fs.StringVar(&f.auth.TokenURL, "flyte-token-url", "", "with --engine flyte: the OAuth2 token endpoint, instead of discovering it")
	fs.BoolVar(&f.insecure, "flyte-insecure", false, "with --engine flyte: allow plain http to an Admin that is not on this host (never with credentials)")
	fs.StringArrayVar(&f.propellers, "propeller-metrics", nil, "with --engine flyte: flytepropeller's Prometheus URL, e.g. http://127.0.0.1:10254/metrics (repeatable, one per --flyte-endpoint): its counts before and after each execution become the infrastructure rows")
	fs.StringVar(&f.register, "register", "", "with --engine flyte: register this package of workflows (pyflyte's protobufs or their archive) through flytectl first")
}

// bundledOnly are run's flags that configure the bundled controller, its
// cluster or its deployment: the flyte engine takes none of them.
var bundledOnly = []string{"controller-source", "profile", "image-repo", "values", "set", "set-string", "install-crds", "calibration",
	"keep-deployments", "keep-workflows", "provider", "nodes", "teardown", "region", "zone", "node-type", "project", "kubernetes-version"}

// flyteOnly are the flags that only the flyte engine takes.
var flyteOnly = []string{"flyte-endpoint", "flyte-project", "flyte-domain", "flyte-auth", "flyte-token-file", "flyte-client-id",
	"flyte-client-secret-file", "flyte-client-secret-env", "flyte-token-url", "flyte-insecure", "propeller-metrics", "register"}

// authFlags renames the auth settings in errors to the flags that set them.
var authFlags = strings.NewReplacer("auth.mode", "--flyte-auth", "auth.tokenFile", "--flyte-token-file", "auth.clientId", "--flyte-client-id",
	"auth.clientSecretFile", "--flyte-client-secret-file", "auth.clientSecretEnv", "--flyte-client-secret-env", "\n", "; ")

// parse returns the flyte engine's settings (nil for the bundled
// engine), or a usage error naming the flag.
func (f *flyteFlags) parse(cmd *cobra.Command, configs []string) (*bench.Flyte, error) {
	changed := cmd.Flags().Changed
	if !slices.Contains(engines, f.engine) {
		return nil, usageError(fmt.Errorf("--engine %q: want one of %s", f.engine, strings.Join(engines, ", ")))
	}
	if f.engine == reports.EngineBundled {
		for _, name := range flyteOnly {
			if changed(name) {
				return nil, usageError(fmt.Errorf("--%s needs --engine flyte", name))
			}
		}
		return nil, nil
	}
	for _, name := range bundledOnly {
		if cmd.Flags().Lookup(name) != nil && changed(name) {
			return nil, usageError(fmt.Errorf("--%s applies to the bundled controller, not to --engine flyte", name))
		}
	}
	if len(f.endpoints) == 0 {
		return nil, usageError(errors.New("--engine flyte needs --flyte-endpoint URL: the Flyte Admin to run the portfolio on"))
	}
	names := configs
	switch {
	case len(configs) == 0 && len(f.endpoints) == 1:
		names = []string{reports.EngineFlyte}
	case len(configs) != len(f.endpoints):
		return nil, usageError(fmt.Errorf("%d --flyte-endpoint and %d --config: name each endpoint's config with a --config, in order", len(f.endpoints), len(configs)))
	}
	if len(f.propellers) > 0 && len(f.propellers) != len(f.endpoints) {
		return nil, usageError(fmt.Errorf("%d --propeller-metrics for %d --flyte-endpoint: give one per endpoint, in order", len(f.propellers), len(f.endpoints)))
	}
	auth := f.auth
	switch {
	case f.authMode != "":
		auth.Mode = flyte.AuthMode(f.authMode)
	case auth.TokenFile != "":
		auth.Mode = flyte.AuthTokenFile
	case auth.ClientID != "" || auth.ClientSecretFile != "" || auth.ClientSecretEnv != "":
		auth.Mode = flyte.AuthClientCredentials
	}
	if err := auth.Validate(); err != nil {
		// Name the flags, not the settings they set, on one line.
		return nil, usageError(errors.New(authFlags.Replace(err.Error())))
	}
	out := &bench.Flyte{Project: f.project, Domain: f.domain, Auth: auth, AllowInsecureHTTP: f.insecure, Register: f.register,
		// A cluster named on the command line holds the deployments
		// ('benchctl deploy --chart') whose values the reports record.
		Deployments: changed("cluster") || changed("kubeconfig")}
	for i, e := range f.endpoints {
		t := bench.FlyteTarget{Name: names[i], Endpoint: e}
		if len(f.propellers) > 0 {
			t.Propeller = f.propellers[i]
		}
		out.Targets = append(out.Targets, t)
	}
	return out, nil
}
