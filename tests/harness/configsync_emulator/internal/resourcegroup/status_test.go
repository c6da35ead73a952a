package resourcegroup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The recordings of real Config Sync v1.24.3, read in place.
const recordings = "/work/shared/reference/config-sync-1.24.3-recordings"

func object(t *testing.T, rel string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recordings, rel))
	if err != nil {
		t.Skipf("recording not available: %v", err)
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func recordedStatus(t *testing.T, rel string) Status {
	t.Helper()
	_, status, err := decodeRG(object(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// sameStatus compares statuses except the conditions' times.
func sameStatus(t *testing.T, got, want Status) {
	t.Helper()
	strip := func(s Status) string {
		s = deepCopyStatus(s)
		for i := range s.Conditions {
			s.Conditions[i].LastTransitionTime.Time = time.Time{}
		}
		for i := range s.ResourceStatuses {
			for j := range s.ResourceStatuses[i].Conditions {
				s.ResourceStatuses[i].Conditions[j].LastTransitionTime.Time = time.Time{}
			}
		}
		data, _ := json.MarshalIndent(s, "", "  ")
		return string(data)
	}
	if g, w := strip(got), strip(want); g != w {
		t.Errorf("status differs\n--- got ---\n%s\n--- want ---\n%s", g, w)
	}
}

func TestScenario01AfterStatus(t *testing.T) {
	const s01 = "scenario-01-rootsync-oci-valid/"
	rg := object(t, s01+"resourcegroup-root-sync.yaml")
	live := []*unstructured.Unstructured{object(t, s01+"applied-namespace-demo.yaml"), object(t, s01+"applied-configmap-demo-config.yaml")}
	got, write, err := Reconciled(rg, live, time.Date(2026, 12, 7, 22, 45, 25, 0, time.UTC))
	if err != nil || !write {
		t.Fatalf("write=%v err=%v", write, err)
	}
	want := recordedStatus(t, s01+"resourcegroup-root-sync-after-status.yaml")
	sameStatus(t, got, want)
	if got.Conditions[0].LastTransitionTime.Time != time.Date(2026, 12, 7, 22, 45, 25, 0, time.UTC) {
		t.Errorf("condition time %v", got.Conditions[0].LastTransitionTime)
	}
}

func TestScenario08AfterPrune(t *testing.T) {
	// The applier's write after the prune (Unknown, the controller's conditions of 22:45:25 kept): the next
	// reconcile makes both objects Current at the new source hash and keeps the conditions and their times.
	const s08 = "scenario-08-prune-removed-file/"
	rg := object(t, s08+"after-resourcegroup-with-status.yaml")
	before := recordedStatus(t, s08+"after-resourcegroup-with-status.yaml")
	live := []*unstructured.Unstructured{object(t, s08+"after-namespace-demo.yaml"), object(t, s08+"after-configmap-extra.yaml")}
	got, write, err := Reconciled(rg, live, time.Date(2026, 12, 7, 22, 46, 25, 0, time.UTC))
	if err != nil || !write {
		t.Fatalf("write=%v err=%v", write, err)
	}
	want := deepCopyStatus(before)
	for i := range want.ResourceStatuses {
		want.ResourceStatuses[i].Status = statusCurrent
		want.ResourceStatuses[i].SourceHash = "90ae9fd"
	}
	sameStatus(t, got, want)
	for i := range got.Conditions {
		if !got.Conditions[i].LastTransitionTime.Equal(&before.Conditions[i].LastTransitionTime) {
			t.Errorf("condition %s time changed: %v", got.Conditions[i].Type, got.Conditions[i].LastTransitionTime)
		}
	}
	// The pruned ConfigMap is gone: were it still listed it would be NotFound, its reconcile Failed.
	spec, _, _ := decodeRG(rg)
	spec.Resources = append(spec.Resources, ObjMetadata{Namespace: "demo", Name: "demo-config", Kind: "ConfigMap"})
	existing := deepCopyStatus(before)
	existing.ResourceStatuses = append(existing.ResourceStatuses, ResourceStatus{ObjMetadata: spec.Resources[2], Status: statusUnknown,
		Strategy: strategyApply, Actuation: actuationSucceeded, Reconcile: reconcileSucceeded})
	statuses := computeStatus("config-management-system_root-sync", existing, spec.Resources, func(res ObjMetadata) *cachedStatus {
		if res.Name == "demo-config" {
			return &cachedStatus{Status: statusNotFound, bare: true}
		}
		return &cachedStatus{Status: statusCurrent, InventoryID: "config-management-system_root-sync"}
	}, time.Now())
	if s := statuses[2]; s.Status != statusNotFound || s.Reconcile != reconcileFailed {
		t.Errorf("pruned object: %+v", s)
	}
}

func TestScenario10Phase2(t *testing.T) {
	const s10 = "scenario-10-reposync-nondefault-name/"
	rg := object(t, s10+"phase2-resourcegroup.yaml")
	got, write, err := Reconciled(rg, []*unstructured.Unstructured{object(t, s10+"phase2-applied-configmap.yaml")}, time.Now().UTC())
	if err != nil || !write {
		t.Fatalf("write=%v err=%v", write, err)
	}
	want := recordedStatus(t, s10+"phase2-resourcegroup.yaml")
	want.ResourceStatuses[0].Status = statusCurrent
	want.ResourceStatuses[0].SourceHash = "a289df1"
	want.Conditions = []Condition{
		{Type: condReconciling, Status: condFalse, Reason: finishReconciling, Message: finishReconcilingMsg},
		{Type: condStalled, Status: condFalse, Reason: finishReconciling, Message: finishReconcilingMsg},
	}
	sameStatus(t, got, want)
}

func TestOwnershipAndKstatus(t *testing.T) {
	now := time.Now().UTC()
	deployment := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "ns", "generation": int64(1),
			"annotations": map[string]any{owningInventoryKey: "other_inv", syncTokenKey: "abcdef0123"}},
		"spec": map[string]any{"replicas": int64(1)},
	}}
	cached := computeCachedStatus(deployment, now)
	if cached.Status != statusInProgress || cached.SourceHash != "abcdef0" || cached.InventoryID != "other_inv" {
		t.Fatalf("cached %+v", cached)
	}
	res := ObjMetadata{Namespace: "ns", Name: "web", Group: "apps", Kind: "Deployment"}
	statuses := computeStatus("mine", Status{ResourceStatuses: []ResourceStatus{{ObjMetadata: res, Status: statusUnknown,
		Strategy: strategyApply, Actuation: actuationSucceeded, Reconcile: reconcileSucceeded}}},
		[]ObjMetadata{res}, func(ObjMetadata) *cachedStatus { return cached }, now)
	s := statuses[0]
	if s.Status != statusInProgress || s.Reconcile != reconcilePending || len(s.Conditions) != 1 ||
		s.Conditions[0].Type != condOwnership || s.Conditions[0].Status != condTrue || s.Conditions[0].Reason != ownershipUnmatch ||
		s.Conditions[0].Message != "This resource is owned by another ResourceGroup other_inv. The status only reflects the specification for the current object in ResourceGroup other_inv." {
		t.Errorf("status %+v", s)
	}
	failed := aggregateResourceStatuses([]ResourceStatus{{ObjMetadata: res, Status: statusFailed}}, now)
	if failed.Status != condTrue || failed.Message != "The following components failed:apps/Deployment/ns/web" {
		t.Errorf("stalled %+v", failed)
	}
}
