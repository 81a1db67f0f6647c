package reports

// Timeline is one execution drawn in time: every attempt with its
// instants and the critical path, in seconds after the execution was
// created. It comes from a run's records (aggregate.Timelines), not from
// a report, which keeps only statistics.
type Timeline struct {
	Workflow string `json:"workflow"`
	Target   string `json:"target"`
	// Repetition counts from 1; Sample is the execution's index among the
	// workflow's samples in the report.
	Repetition int     `json:"repetition"`
	Sample     int     `json:"sample"`
	Wall       float64 `json:"wall"`
	Setup      float64 `json:"setup"`
	Teardown   float64 `json:"teardown"`
	// Bars are the attempts, in node order (items in index order).
	Bars []Bar `json:"bars"`
	// Path is the critical path.
	Path []PathStep `json:"path"`
}

// Bar is one attempt: a task node's, a map item's or a cache hit.
type Bar struct {
	Node    string `json:"node"`
	Kind    string `json:"kind,omitempty"`
	Item    int    `json:"item"` // -1: not a map item
	Attempt int    `json:"attempt"`
	Cached  bool   `json:"cached,omitempty"`
	// Scope is when the DAG holding the node started (the workflow's
	// creation, or its nested DAG's start): before ready the node waited
	// for its upstream nodes.
	Scope    float64 `json:"scope"`
	Ready    float64 `json:"ready"`
	SlotFree float64 `json:"slotFree"`
	// Handled is when the handle round that launched the attempt began;
	// Seen is when the round that saw it finish ended. Between them and
	// their neighbours the attempt waited for a round.
	Handled  float64 `json:"handled"`
	Launched float64 `json:"launched"`
	Started  float64 `json:"started"`
	Finished float64 `json:"finished"`
	Seen     float64 `json:"seen"`
	Done     float64 `json:"done"`
	// Critical is true when the attempt is on the critical path.
	Critical bool `json:"critical,omitempty"`
}
