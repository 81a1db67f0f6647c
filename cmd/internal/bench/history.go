package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/history"
)

// History orders saved reports and finds the change points of every
// metric: 'benchctl history'.
type History struct {
	// Paths are report files, or directories searched recursively for
	// reports (every *.yaml but diff-*.yaml).
	Paths []string
	// Config keeps only the reports of this config; without it, the
	// reports must all be of one config.
	Config string
	// ByTime orders the reports by run start; otherwise they keep the
	// order given (directories' files in lexical order).
	ByTime  bool
	Options history.BuildOptions
}

// Run loads, orders and analyses the reports. Unreadable, mixed or
// incomparable reports are an InputError.
func (h *History) Run(ctx context.Context) (*history.History, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := h.files()
	if err != nil {
		return nil, inputErr(err)
	}
	var entries []history.Entry
	configs := map[string][]string{}
	for _, f := range files {
		r, err := reports.Load(f)
		if err != nil {
			return nil, inputErr(err)
		}
		name := r.Environment.Config.Name
		configs[name] = append(configs[name], f)
		if h.Config == "" || name == h.Config {
			entries = append(entries, history.Entry{Source: f, Report: r})
		}
	}
	switch {
	case len(files) == 0:
		return nil, inputErrorf("no reports in %s", strings.Join(h.Paths, " "))
	case h.Config != "" && len(entries) == 0:
		return nil, inputErrorf("no report of config %q in %s (configs: %s)", h.Config, strings.Join(h.Paths, " "), strings.Join(slices.Sorted(mapKeys(configs)), ", "))
	case h.Config == "" && len(configs) > 1:
		return nil, inputErrorf("the reports are of %d configs (%s): choose one with --config", len(configs), strings.Join(slices.Sorted(mapKeys(configs)), ", "))
	}
	if h.ByTime {
		history.SortEntries(entries)
	}
	out, err := history.Build(entries, h.Options)
	if err != nil {
		var ie *history.IncomparableError
		if errors.As(err, &ie) {
			return nil, inputErr(err)
		}
		return nil, inputErr(fmt.Errorf("history: %w", err))
	}
	return out, nil
}

// files expands the paths: files as given, directories into their
// reports in lexical order.
func (h *History) files() ([]string, error) {
	var out []string
	for _, p := range h.Paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if !d.IsDir() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) && !strings.HasPrefix(name, "diff-") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
	}
	return out, nil
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
