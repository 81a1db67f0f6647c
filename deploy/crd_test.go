package deploy

import (
	"context"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
	benchflow "github.com/benchctl/benchctl/controller/chart"
)

// TestUpgradeCRD: an older Workflow CRD is replaced by the chart's where
// cluster-scoped changes are allowed and refused naming --install-crds
// where not; an absent, equal or newer one is left alone.
func TestUpgradeCRD(t *testing.T) {
	chrt, err := loadChartFS(benchflow.FS())
	if err != nil {
		t.Fatal(err)
	}
	const name = "workflows.flow.benchctl.dev"
	installed := func(rev string) *apiextensionsv1.CustomResourceDefinition {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "7"}}
		if rev != "" {
			crd.Annotations = map[string]string{v1alpha1.AnnotationCRDRevision: rev}
		}
		return crd
	}
	tests := []struct {
		name      string
		have      *apiextensionsv1.CustomResourceDefinition
		allowed   bool
		upgraded  bool
		wantError string
	}{
		{"absent: Helm installs it", nil, true, false, ""},
		{"revision 1 (no annotation) upgraded", installed(""), true, true, ""},
		{"revision 1 on a cluster not ours", installed(""), false, false, "pass --install-crds"},
		{"same revision kept", installed("2"), true, false, ""},
		{"newer revision kept", installed("3"), false, false, ""},
		{"unreadable revision", installed("two"), true, false, "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			if tt.have != nil {
				if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(context.Background(), tt.have, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			crds := cs.ApiextensionsV1().CustomResourceDefinitions()
			upgraded, err := upgradeCRD(context.Background(), crds, chrt, tt.allowed, "lab")
			switch {
			case tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), tt.wantError)):
				t.Fatalf("error %v, want one saying %q", err, tt.wantError)
			case tt.wantError == "" && err != nil:
				t.Fatal(err)
			case (len(upgraded) > 0) != tt.upgraded:
				t.Fatalf("upgraded %v, want %v", upgraded, tt.upgraded)
			}
			got, err := crds.Get(context.Background(), name, metav1.GetOptions{})
			if tt.have == nil {
				if err == nil {
					t.Fatal("an absent CRD was created; Helm installs it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rev := got.Annotations[v1alpha1.AnnotationCRDRevision]
			if tt.upgraded && (rev != "2" || got.Spec.Group != v1alpha1.SchemeGroupVersion.Group) {
				t.Fatalf("after the upgrade: revision %q, group %q", rev, got.Spec.Group)
			}
			if !tt.upgraded && rev != tt.have.Annotations[v1alpha1.AnnotationCRDRevision] {
				t.Fatalf("a CRD that should stay was changed to revision %q", rev)
			}
		})
	}
}
