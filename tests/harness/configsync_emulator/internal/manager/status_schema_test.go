package manager

import (
	"encoding/json"
	"errors"
	"testing"

	"configsync.test/emulator/internal/crdschema"
)

// The manager's status shapes (first reconcile, Deployment available, Stalled on a bad spec) fit the release CRDs.
func TestEveryStatusShapeFitsTheReleaseCRDs(t *testing.T) {
	pending, _ := applyStatusEdit(nil, "root-reconciler", 1, func(c *conditions) {
		c.setReconciling("Deployment", "Deployment (config-management-system/root-reconciler) InProgress: Replicas: 0/1")
		c.clear("Stalled")
	}, fixedNow)
	pendingCopy := deepCopy(t, pending)
	available, _ := applyStatusEdit(pendingCopy, "root-reconciler", 1, func(c *conditions) { c.clear("Reconciling"); c.clear("Stalled") }, fixedNow)
	stalled, _ := applyStatusEdit(nil, "root-reconciler-x", 1, func(c *conditions) {
		c.setStalled("Validation", errors.New("KNV1061: RootSyncs which specify spec.oci.auth as \"gcpserviceaccount\" must also specify spec.oci.gcpServiceAccountEmail"))
	}, fixedNow)
	shapes := map[string]map[string]interface{}{"reconciling": pending, "available": available, "stalled": stalled}
	for _, file := range []string{"rootsync-crd.yaml", "reposync-crd.yaml"} {
		crd, err := crdschema.Load(file, "v1beta1")
		if err != nil {
			t.Fatal(err)
		}
		if crd.At("status.conditions.[].errorSummary") == nil {
			t.Fatalf("%s: no status schema to check against", file)
		}
		for name, status := range shapes {
			if problems := crdschema.Validate(crd.At("status"), deepCopy(t, status)); len(problems) > 0 {
				t.Errorf("%s, %s: %v", file, name, problems)
			}
		}
	}
}

// deepCopy round-trips through JSON, as the status travels to the API server.
func deepCopy(t *testing.T, in map[string]interface{}) map[string]interface{} {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
