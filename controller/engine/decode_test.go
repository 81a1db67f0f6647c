package engine

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// jsonDecoder is the Workflow client's JSON decoder.
func jsonDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	ns := lenientSerializers{serializer.NewCodecFactory(Scheme).WithoutConversion()}
	for _, info := range ns.SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			return info.Serializer
		}
	}
	t.Fatal("no JSON serializer")
	return nil
}

const (
	goodItem = `{"apiVersion":"flow.benchctl.dev/v1alpha1","kind":"Workflow","metadata":{"name":"good","namespace":"ns"},
		"spec":{"closure":{"primary":{"nodes":{}},"tasks":{"t":{"retries":1}}}},"status":{"phase":"Running"}}`
	badSpec = `{"apiVersion":"flow.benchctl.dev/v1alpha1","kind":"Workflow","metadata":{"name":"bad","namespace":"ns"},
		"spec":{"closure":{"primary":{"nodes":{}},"tasks":{"t":{"retries":"three"}}}},"status":{"phase":"Running"}}`
	badStatus = `{"apiVersion":"flow.benchctl.dev/v1alpha1","kind":"Workflow","metadata":{"name":"ended","namespace":"ns"},
		"spec":{"closure":{"primary":{"nodes":{}},"tasks":{}}},"status":{"phase":"Succeeded","finishedAt":7,"nodes":{"n0":{"attempts":"x"}}}}`
)

// TestLenientDecoding: a Workflow that is valid JSON but does not fit the
// Go types decodes with AnnotationDecodeError naming the field; a list
// with one keeps every other item as it is; JSON that is not valid, and
// kinds other than Workflow, still fail.
func TestLenientDecoding(t *testing.T) {
	dec := jsonDecoder(t)
	tests := []struct {
		name string
		data string
		// names and marks of the Workflows decoded, in order; "" = none
		want    map[string]string
		wantErr bool
	}{
		{"valid", goodItem, map[string]string{"good": ""}, false},
		{"bad closure", badSpec, map[string]string{"bad": "spec.closure.tasks.retries: a JSON string where int32 belongs"}, false},
		{"bad status keeps its phase", badStatus, map[string]string{"ended": "status.nodes.attempts: a JSON string where int32 belongs"}, false},
		{"list with one bad item", `{"apiVersion":"flow.benchctl.dev/v1alpha1","kind":"WorkflowList","metadata":{"resourceVersion":"9"},"items":[` +
			goodItem + `,` + badSpec + `]}`, map[string]string{"good": "", "bad": "spec.closure.tasks.retries"}, false},
		{"not JSON", `{"apiVersion":"flow.benchctl.dev/v1alpha1","kind":"Workflow",`, nil, true},
		{"another kind", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":1}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, _, err := dec.Decode([]byte(tt.data), nil, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %T, want an error", obj)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var items []v1alpha1.Workflow
			switch o := obj.(type) {
			case *v1alpha1.Workflow:
				items = []v1alpha1.Workflow{*o}
			case *v1alpha1.WorkflowList:
				items = o.Items
				if o.ResourceVersion != "9" {
					t.Fatalf("list resourceVersion %q", o.ResourceVersion)
				}
			default:
				t.Fatalf("decoded %T", obj)
			}
			if len(items) != len(tt.want) {
				t.Fatalf("%d workflows, want %d", len(items), len(tt.want))
			}
			for _, wf := range items {
				mark, ok := tt.want[wf.Name]
				if !ok {
					t.Fatalf("unexpected workflow %q", wf.Name)
				}
				got := wf.Annotations[AnnotationDecodeError]
				if (mark == "") != (got == "") || !strings.Contains(got, mark) {
					t.Fatalf("%s: mark %q, want %q", wf.Name, got, mark)
				}
				if mark == "" && wf.Spec.Closure.Tasks["t"].Retries != 1 {
					t.Fatalf("%s: decoded as %+v", wf.Name, wf.Spec)
				}
			}
			if tt.name == "bad status keeps its phase" && (items[0].Status.Phase != v1alpha1.WorkflowSucceeded || items[0].Status.FinishedAt != 7) {
				t.Fatalf("status outline lost: %+v", items[0].Status)
			}
		})
	}
}
