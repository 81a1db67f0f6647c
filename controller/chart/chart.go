// Package chart embeds the benchflow Helm chart, so that benchctl deploys
// the chart of the controller it was built with.
package chart

import (
	"embed"
	"io/fs"
)

// The templates pattern needs all: so that _helpers.tpl is included.
//
//go:embed .helmignore Chart.yaml values.yaml values.schema.json all:templates crds dashboards
var files embed.FS

// FS returns the chart's files, rooted at the chart directory.
func FS() fs.FS { return files }
