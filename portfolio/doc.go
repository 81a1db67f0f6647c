// Package portfolio defines the benchmark portfolio and runs it.
//
// A portfolio is a YAML file (apiVersion benchctl/v1, kind Portfolio; the
// built-in one is defaults.yaml, embedded) listing workflows, each with a
// one-line description, a shape (chain, fanout, dag, map, dynamic,
// subworkflows, launchplans), the task its nodes run, and per-tier
// overlays. Load parses and validates files, reporting problems as
// "FILE:LINE: FIELD: message"; Compile turns one tier into v1alpha1
// Workflow templates and a hash that reports use to refuse incomparable
// diffs.
//
// Run executes a compiled tier strictly serially on one or more targets
// (configs), interleaving them repetition by repetition, and writes one
// JSON record per execution into a run directory before starting the next;
// LoadRun reads the directory back for the aggregate.
package portfolio
