package v1alpha1

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestNodeStatusCompactForm: every status survives a round trip through
// its compact string; the forms are as documented; the object form of
// older controllers still decodes; and bad strings are refused naming the
// part.
func TestNodeStatusCompactForm(t *testing.T) {
	const t0 = int64(1765012345678901234)
	tests := []struct {
		name string
		st   NodeStatus
		want string // the JSON, when fixed
	}{
		{"not started", NodeStatus{}, `""`},
		{"start node", NodeStatus{Phase: NodeSucceeded}, `"Succeeded"`},
		{"task", NodeStatus{Phase: NodeSucceeded, Attempts: 1, Launched: t0, Started: t0 + 4012345, Finished: t0 + 304012345},
			`"Succeeded|1|1765012345678901234|4012345|304012345"`},
		{"started with the launch", NodeStatus{Phase: NodeRunning, Attempts: 2, Launched: t0, Started: t0}, `"Running|2|1765012345678901234|0"`},
		{"started before the launch returned", NodeStatus{Phase: NodeRunning, Attempts: 1, Launched: t0, Started: t0 - 1500, Finished: t0 - 1500},
			`"Running|1|1765012345678901234|-1500|-1500"`},
		{"cached", NodeStatus{Phase: NodeSucceeded, Cached: true}, `"Succeeded|||||c"`},
		{"map", NodeStatus{Phase: NodeRunning, Launched: t0, Map: &MapStatus{Items: "SSR.F", Retried: "2:2,4:3"}},
			`"Running||1765012345678901234|||m=SSR.F|r=2:2,4:3"`},
		{"failure with a message that needs escaping", NodeStatus{Phase: NodeFailed, Attempts: 3, Launched: t0, Started: t0 + 1, Finished: t0 + 2,
			Message: "attempt 3 failed: exit 1 | 100% sure"}, ""},
		{"dynamic and child", NodeStatus{Phase: NodeRunning, Attempts: 1, DynamicRef: "executions/ns/w-1/dyn/1/subdag", Child: "w-lp0-abc"}, ""},
		{"started without a launch (adopted)", NodeStatus{Phase: NodeSucceeded, Started: t0, Finished: t0 + 5}, ""},
		{"an escape sequence in a message", NodeStatus{Phase: NodeFailed, Message: "%7C is not a pipe"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.st)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(b) != tt.want {
				t.Fatalf("encoded %s, want %s", b, tt.want)
			}
			var got NodeStatus
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.st) {
				t.Fatalf("round trip of %s: %+v, want %+v", b, got, tt.st)
			}
			// The object form of older controllers decodes the same.
			type object NodeStatus
			old, err := json.Marshal(object(tt.st))
			if err != nil {
				t.Fatal(err)
			}
			var fromOld NodeStatus
			if err := json.Unmarshal(old, &fromOld); err != nil || !reflect.DeepEqual(fromOld, tt.st) {
				t.Fatalf("object form %s: %+v, %v", old, fromOld, err)
			}
		})
	}
}

func TestNodeStatusRefused(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`"Sleeping"`, `unknown phase "Sleeping"`},
		{`"Running|one"`, "attempts"},
		{`"Running|1|x"`, "launched"},
		{`"Running|1|5|y"`, "started"},
		{`"Running|1|5|6|z"`, "finished"},
		{`"Running|1|5|6|7|q=1"`, `unknown tag "q"`},
		{`"Failed|1|5|6|7|x=50%"`, "bad escape"},
		{`7`, "node status"},
	} {
		var st NodeStatus
		err := json.Unmarshal([]byte(tt.in), &st)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %s", tt.in, err, tt.want)
		}
	}
}

// TestWorkflowStatusBytes: the compact form is what shrinks a large
// workflow's object, per node.
func TestWorkflowStatusBytes(t *testing.T) {
	const t0 = int64(1765012345678901234)
	nodes := map[string]NodeStatus{}
	for i := range 1000 {
		nodes[fmt.Sprintf("n%03d", i)] = NodeStatus{Phase: NodeSucceeded, Attempts: 1, Launched: t0, Started: t0 + 1e6, Finished: t0 + 2e6}
	}
	type object NodeStatus
	objects := map[string]object{}
	for k, v := range nodes {
		objects[k] = object(v)
	}
	compact, _ := json.Marshal(nodes)
	full, _ := json.Marshal(objects)
	t.Logf("1,000 node statuses: %d bytes compact, %d as objects", len(compact), len(full))
	if len(compact)*2 > len(full) {
		t.Fatalf("compact %d bytes is not under half of %d", len(compact), len(full))
	}
}
