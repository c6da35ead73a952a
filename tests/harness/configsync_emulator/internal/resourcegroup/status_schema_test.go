package resourcegroup

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"configsync.test/emulator/internal/crdschema"
)

// The controller's ResourceGroup statuses (all Current; one object missing; one owned by another inventory) fit
// the release CRD.
func TestEveryStatusShapeFitsTheReleaseCRD(t *testing.T) {
	const s01 = "scenario-01-rootsync-oci-valid/"
	crd, err := crdschema.Load("resourcegroup-crd.yaml", "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	if crd.At("status.resourceStatuses.[].conditions") == nil {
		t.Fatal("no status schema to check against")
	}
	namespace := object(t, s01+"applied-namespace-demo.yaml")
	configMap := object(t, s01+"applied-configmap-demo-config.yaml")
	foreign := configMap.DeepCopy()
	annotations := foreign.GetAnnotations()
	annotations["config.k8s.io/owning-inventory"] = "config-management-system_other-sync"
	foreign.SetAnnotations(annotations)
	shapes := map[string][]*unstructured.Unstructured{
		"current":           {namespace, configMap},
		"not found":         {namespace},
		"ownership overlap": {namespace, foreign},
	}
	at := time.Date(2026, 12, 7, 22, 45, 25, 0, time.UTC)
	for name, live := range shapes {
		got, _, err := Reconciled(object(t, s01+"resourcegroup-root-sync.yaml"), live, at)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var decoded interface{}
		if err := json.Unmarshal(data, &decoded); err != nil {
			t.Fatal(err)
		}
		if problems := crdschema.Validate(crd.At("status"), decoded); len(problems) > 0 {
			t.Errorf("%s: %v\n%s", name, problems, data)
		}
	}
}
