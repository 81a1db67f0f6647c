package aggregate

import (
	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// templates resolves the DAG that holds a node, at any nesting depth
// (v1alpha1.WorkflowClosure.TemplateAt), remembering each one: a large
// DAG asks for the same prefix once per node.
type templates struct {
	closure *v1alpha1.WorkflowClosure
	cache   map[string]*v1alpha1.WorkflowTemplate
}

func newTemplates(c *v1alpha1.WorkflowClosure) *templates {
	return &templates{closure: c, cache: map[string]*v1alpha1.WorkflowTemplate{}}
}

// lookup returns the DAG whose nodes have status paths prefix/<id>.
func (t *templates) lookup(prefix string) (*v1alpha1.WorkflowTemplate, error) {
	if tt, ok := t.cache[prefix]; ok {
		return tt, nil
	}
	tt, err := t.closure.TemplateAt(prefix)
	if err != nil {
		return nil, err
	}
	t.cache[prefix] = &tt
	return &tt, nil
}
