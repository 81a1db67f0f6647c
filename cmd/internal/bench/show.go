package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/benchctl/benchctl/aggregate"
	"github.com/benchctl/benchctl/portfolio/rundir"
	"github.com/benchctl/benchctl/reports"
	"github.com/benchctl/benchctl/reports/page"
)

// Page makes the HTML page of a run directory (every report with its
// executions' timelines, and the diffs against the first target) or of
// one saved report (everything but the timelines, which need the run's
// records).
type Page struct {
	Path string
	Gate Gate
}

// Run builds the page. A path that is neither a run directory nor a
// report is an InputError.
func (p *Page) Run(ctx context.Context) (*page.Page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(p.Path)
	if err != nil {
		return nil, inputErr(err)
	}
	if !st.IsDir() {
		r, err := reports.Load(p.Path)
		if err != nil {
			return nil, inputErr(err)
		}
		return &page.Page{
			Title:    "benchctl report " + filepath.Base(p.Path),
			Sections: []page.Section{{Source: p.Path, Report: r}},
			NoTimelines: fmt.Sprintf("This page was made from %s alone. The execution timelines come from the run's records: "+
				"benchctl report show -o html RUN_DIR draws them.", p.Path),
		}, nil
	}
	run, err := rundir.Load(p.Path)
	if errors.Is(err, rundir.ErrNoRun) {
		return nil, inputErrorf("%s is neither a report file nor a run directory: %w", p.Path, err)
	}
	if err != nil {
		return nil, inputErr(err)
	}
	outs, err := aggregate.Reports(run)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Reports: outs}
	for i := range o.Reports {
		o.Reports[i].YAML = filepath.Join(rundir.Open(p.Path).ReportsDir(), o.Reports[i].Target+".yaml")
	}
	if err := o.compare(p.Gate); err != nil {
		return nil, err
	}
	return o.page(p.Path), nil
}
