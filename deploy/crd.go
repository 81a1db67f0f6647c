package deploy

import (
	"context"
	"fmt"
	"strconv"

	"helm.sh/helm/v3/pkg/chart"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/benchctl/benchctl/provision"

	"github.com/benchctl/benchctl/controller/api/v1alpha1"
)

// crdClient is the part of the CRD API upgradeCRD uses.
type crdClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*apiextensionsv1.CustomResourceDefinition, error)
	Update(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition, opts metav1.UpdateOptions) (*apiextensionsv1.CustomResourceDefinition, error)
}

// ensureCRD runs upgradeCRD against cluster c.
func ensureCRD(ctx context.Context, c *provision.Cluster, opts Options, chrt *chart.Chart, step func(string, ...any)) error {
	rc, err := c.RESTConfig()
	if err != nil {
		return err
	}
	cs, err := apiextensions.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("CRD client: %w", err)
	}
	upgraded, err := upgradeCRD(ctx, cs.ApiextensionsV1().CustomResourceDefinitions(), chrt, c.Owned() || opts.InstallCRDs, c.Name)
	for _, u := range upgraded {
		step("upgraded CRD %s", u)
	}
	return err
}

// crdRevision is a CRD's v1alpha1.AnnotationCRDRevision; none is 1.
func crdRevision(crd *apiextensionsv1.CustomResourceDefinition) (int, error) {
	v, ok := crd.Annotations[v1alpha1.AnnotationCRDRevision]
	if !ok {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("CRD %s: annotation %s=%q is not a number", crd.Name, v1alpha1.AnnotationCRDRevision, v)
	}
	return n, nil
}

// upgradeCRD brings the chart's CRDs on the cluster up to the chart's
// revision: Helm installs a chart's CRDs only when they are absent and
// never upgrades them, and a controller needs the CRD it was built for
// (revision 2's compact node statuses are refused by revision 1's
// schema). An older CRD is replaced where cluster-scoped changes are
// allowed (a cluster benchctl created, or --install-crds), and otherwise
// refused naming the flag. An absent one is left to Helm; a newer one is
// kept: two refs compared on one cluster both run on the newer, which
// takes what the older writes. It reports what it upgraded.
func upgradeCRD(ctx context.Context, crds crdClient, chrt *chart.Chart, allowed bool, cluster string) ([]string, error) {
	var upgraded []string
	for _, f := range chrt.CRDObjects() {
		var want apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(f.File.Data, &want); err != nil {
			return upgraded, fmt.Errorf("chart CRD %s: %w", f.Filename, err)
		}
		wantRev, err := crdRevision(&want)
		if err != nil {
			return upgraded, err
		}
		have, err := crds.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return upgraded, fmt.Errorf("read CRD %s: %w", want.Name, err)
		}
		haveRev, err := crdRevision(have)
		if err != nil {
			return upgraded, err
		}
		if haveRev >= wantRev {
			continue
		}
		if !allowed {
			return upgraded, fmt.Errorf("the %s CRD on cluster %s is revision %d and this controller needs revision %d; pass --install-crds to let benchctl upgrade it (a cluster-scoped change)", want.Name, cluster, haveRev, wantRev)
		}
		want.ResourceVersion = have.ResourceVersion
		if _, err := crds.Update(ctx, &want, metav1.UpdateOptions{}); err != nil {
			return upgraded, fmt.Errorf("upgrade CRD %s from revision %d to %d: %w", want.Name, haveRev, wantRev, err)
		}
		upgraded = append(upgraded, fmt.Sprintf("%s (revision %d to %d)", want.Name, haveRev, wantRev))
	}
	return upgraded, nil
}
