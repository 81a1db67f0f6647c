package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// AnnotationDecodeError marks, in memory only, a Workflow whose spec or
// status did not decode into the Go types; its value says why, naming the
// field. The engine fails such a workflow with a status patch and never
// writes the object back, so the mark is never stored.
const AnnotationDecodeError = v1alpha1.Domain + "/decode-error"

// The CRD leaves spec.closure and status.nodes schemaless (the API server
// validating them was most of an update's cost), so the API server takes
// a Workflow whose closure holds a string where a number belongs. Decoded
// strictly, one such object would fail every list of the namespace and
// hold the informer from syncing: the controller would stop for every
// workflow. lenientSerializer decodes it anyway, marked with
// AnnotationDecodeError, and the engine fails that one workflow.

// lenientSerializers is a NegotiatedSerializer whose JSON decoding of
// Workflows and WorkflowLists is lenient (lenientSerializer).
type lenientSerializers struct{ runtime.NegotiatedSerializer }

func (l lenientSerializers) SupportedMediaTypes() []runtime.SerializerInfo {
	infos := slices.Clone(l.NegotiatedSerializer.SupportedMediaTypes())
	for i := range infos {
		if infos[i].MediaType != runtime.ContentTypeJSON {
			continue
		}
		infos[i].Serializer = lenientSerializer{infos[i].Serializer}
		if ss := infos[i].StreamSerializer; ss != nil {
			wrapped := *ss
			wrapped.Serializer = lenientSerializer{ss.Serializer}
			infos[i].StreamSerializer = &wrapped
		}
	}
	return infos
}

// lenientSerializer decodes strictly first; a Workflow (or a list of
// them) that is valid JSON but does not fit the Go types is decoded part
// by part instead (decodeWorkflowLeniently).
type lenientSerializer struct{ runtime.Serializer }

func (l lenientSerializer) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	obj, gvk, err := l.Serializer.Decode(data, defaults, into)
	if err == nil || !json.Valid(data) {
		return obj, gvk, err
	}
	var tm metav1.TypeMeta
	if json.Unmarshal(data, &tm) != nil || tm.GroupVersionKind().GroupVersion() != v1alpha1.SchemeGroupVersion {
		return obj, gvk, err
	}
	got := tm.GroupVersionKind()
	switch tm.Kind {
	case "Workflow":
		wf, lerr := decodeWorkflowLeniently(data)
		if lerr != nil {
			return nil, nil, errors.Join(err, lerr)
		}
		if w, ok := into.(*v1alpha1.Workflow); ok {
			*w = *wf
			return w, &got, nil
		}
		return wf, &got, nil
	case "WorkflowList":
		list, lerr := decodeListLeniently(data)
		if lerr != nil {
			return nil, nil, errors.Join(err, lerr)
		}
		if l, ok := into.(*v1alpha1.WorkflowList); ok {
			*l = *list
			return l, &got, nil
		}
		return list, &got, nil
	}
	return obj, gvk, err
}

// decodeWorkflowLeniently decodes a Workflow's metadata, then its spec
// and its status each on its own. A part that does not decode is left
// empty, except that a status keeps its phase, message and instants when
// they decode, so that a workflow already ended stays ended; the reasons
// go into AnnotationDecodeError. Only metadata that does not decode is an
// error.
func decodeWorkflowLeniently(data []byte) (*v1alpha1.Workflow, error) {
	var raw struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            json.RawMessage   `json:"spec"`
		Status          json.RawMessage   `json:"status"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("workflow metadata: %w", err)
	}
	wf := &v1alpha1.Workflow{TypeMeta: raw.TypeMeta, ObjectMeta: raw.Metadata}
	var why []string
	if len(raw.Spec) > 0 {
		if err := json.Unmarshal(raw.Spec, &wf.Spec); err != nil {
			wf.Spec = v1alpha1.WorkflowSpec{}
			why = append(why, fieldError("spec", err))
		}
	}
	if len(raw.Status) > 0 {
		if err := json.Unmarshal(raw.Status, &wf.Status); err != nil {
			var outline struct {
				Phase      v1alpha1.WorkflowPhase `json:"phase"`
				Message    string                 `json:"message"`
				StartedAt  int64                  `json:"startedAt"`
				FinishedAt int64                  `json:"finishedAt"`
			}
			_ = json.Unmarshal(raw.Status, &outline) // best effort: zero when even these do not decode
			wf.Status = v1alpha1.WorkflowStatus{Phase: outline.Phase, Message: outline.Message,
				StartedAt: outline.StartedAt, FinishedAt: outline.FinishedAt}
			why = append(why, fieldError("status", err))
		}
	}
	if len(why) > 0 {
		if wf.Annotations == nil {
			wf.Annotations = map[string]string{}
		}
		wf.Annotations[AnnotationDecodeError] = strings.Join(why, "; ")
	}
	return wf, nil
}

// decodeListLeniently decodes a WorkflowList item by item, each strictly
// or else leniently.
func decodeListLeniently(data []byte) (*v1alpha1.WorkflowList, error) {
	var raw struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ListMeta   `json:"metadata"`
		Items           []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("workflow list: %w", err)
	}
	list := &v1alpha1.WorkflowList{TypeMeta: raw.TypeMeta, ListMeta: raw.Metadata, Items: make([]v1alpha1.Workflow, 0, len(raw.Items))}
	for i, item := range raw.Items {
		var wf v1alpha1.Workflow
		if json.Unmarshal(item, &wf) != nil {
			lw, err := decodeWorkflowLeniently(item)
			if err != nil {
				return nil, fmt.Errorf("items[%d]: %w", i, err)
			}
			wf = *lw
		}
		list.Items = append(list.Items, wf)
	}
	return list, nil
}

// fieldError names the field a JSON type error is about, as a path from
// the Workflow's root (map keys are not in encoding/json's path).
func fieldError(part string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%s.%s: a JSON %s where %s belongs", part, te.Field, te.Value, te.Type)
	}
	return fmt.Sprintf("%s: %v", part, err)
}
