package aggregate

import "testing"

func TestScrapeDelta(t *testing.T) {
	before, err := ParseScrape([]byte(`# TYPE benchflow_pod_create_duration_seconds histogram
benchflow_pod_create_duration_seconds_bucket{le="0.01"} 3
benchflow_pod_create_duration_seconds_bucket{le="+Inf"} 4
benchflow_pod_create_duration_seconds_sum 0.05
benchflow_pod_create_duration_seconds_count 4
# TYPE benchflow_catalog_hits_total counter
benchflow_catalog_hits_total 2
# TYPE benchflow_event_record_duration_seconds histogram
benchflow_event_record_duration_seconds_bucket{kind="node",le="+Inf"} 5
benchflow_event_record_duration_seconds_sum{kind="node"} 0.01
benchflow_event_record_duration_seconds_count{kind="node"} 5
`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseScrape([]byte(`# TYPE benchflow_pod_create_duration_seconds histogram
benchflow_pod_create_duration_seconds_bucket{le="0.01"} 9
benchflow_pod_create_duration_seconds_bucket{le="+Inf"} 14
benchflow_pod_create_duration_seconds_sum 0.15
benchflow_pod_create_duration_seconds_count 14
# TYPE benchflow_catalog_hits_total counter
benchflow_catalog_hits_total 2
# TYPE benchflow_event_record_duration_seconds histogram
benchflow_event_record_duration_seconds_bucket{kind="node",le="+Inf"} 8
benchflow_event_record_duration_seconds_sum{kind="node"} 0.02
benchflow_event_record_duration_seconds_count{kind="node"} 8
benchflow_event_record_duration_seconds_bucket{kind="task",le="+Inf"} 2
benchflow_event_record_duration_seconds_sum{kind="task"} 0.02
benchflow_event_record_duration_seconds_count{kind="task"} 2
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		match map[string]string
		want  float64
	}{
		{"benchflow_pod_create_duration_seconds", nil, 10},
		{"benchflow_catalog_hits_total", nil, 0},
		{"benchflow_event_record_duration_seconds", map[string]string{"kind": "node"}, 3},
		{"benchflow_event_record_duration_seconds", map[string]string{"kind": "task"}, 2},
		{"benchflow_event_record_duration_seconds", nil, 5},
		{"benchflow_absent_total", nil, 0},
	}
	for _, tt := range tests {
		if got := Delta(before, after, tt.name, tt.match); got != tt.want {
			t.Errorf("Delta(%s, %v) = %v, want %v", tt.name, tt.match, got, tt.want)
		}
	}
	if _, err := ParseScrape([]byte("not a metric line {")); err == nil {
		t.Error("ParseScrape accepted garbage")
	}
}
