package resourcegroup

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

// What the resource-group controller writes into a ResourceGroup's status (pkg/resourcegroup/controllers/
// resourcegroup/resourcegroup_controller.go and condition.go, controllers/status/status.go of Config Sync v1.24.3).

const (
	// FieldManager is the resource-group controller's field manager.
	FieldManager = "configsync.gke.io/resource-group-controller"

	inventoryLabel        = "cli-utils.sigs.k8s.io/inventory-id"
	owningInventoryKey    = "config.k8s.io/owning-inventory"
	syncTokenKey          = "configmanagement.gke.io/token"
	lifecycleMutationKey  = "client.lifecycle.config.k8s.io/mutation"
	ignoreMutation        = "ignore"
	statusModeKey         = "configsync.gke.io/status"
	statusDisabled        = "disabled"
	managedByKey          = "app.kubernetes.io/managed-by"
	managedByConfigSync   = "configmanagement.gke.io"
	resourceGroupGroup    = "kpt.dev"
	resourceGroupKindName = "ResourceGroup"

	condReconciling = "Reconciling"
	condStalled     = "Stalled"
	condOwnership   = "OwnershipOverlap"

	condTrue    = "True"
	condFalse   = "False"
	condUnknown = "Unknown"

	finishReconciling        = "FinishReconciling"
	finishReconcilingMsg     = "finish reconciling"
	componentFailed          = "ComponentFailed"
	componentFailedMsgPrefix = "The following components failed:"
	exceedTimeout            = "ExceedTimeout"
	exceedTimeoutMsg         = "Exceed timeout, the .status.observedGeneration and .status.resourceStatuses fields are old."

	ownershipUnmatch = "Overlap"
	ownershipEmpty   = "Unknown"

	// Resource statuses (kstatus values plus NotFound).
	statusInProgress  = "InProgress"
	statusFailed      = "Failed"
	statusCurrent     = "Current"
	statusTerminating = "Terminating"
	statusNotFound    = "NotFound"
	statusUnknown     = "Unknown"

	strategyApply  = "Apply"
	strategyDelete = "Delete"

	actuationPending   = "Pending"
	actuationSucceeded = "Succeeded"
	actuationSkipped   = "Skipped"
	actuationFailed    = "Failed"

	reconcilePending   = "Pending"
	reconcileSucceeded = "Succeeded"
	reconcileSkipped   = "Skipped"
	reconcileFailed    = "Failed"
)

// Condition is a ResourceGroup (or resource status) condition.
type Condition struct {
	Type               string      `json:"type"`
	Status             string      `json:"status"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

func (c Condition) isEmpty() bool {
	return c.Type == "" && c.Status == "" && c.Reason == "" && c.Message == "" && c.LastTransitionTime.IsZero()
}

// ObjMetadata identifies one object of spec.resources.
type ObjMetadata struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Group     string `json:"group"`
	Kind      string `json:"kind"`
}

func (m ObjMetadata) String() string {
	return fmt.Sprintf("%s/%s/%s/%s", m.Group, m.Kind, m.Namespace, m.Name)
}

// GroupMetadata identifies a subgroup (another ResourceGroup).
type GroupMetadata struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ResourceStatus is one entry of status.resourceStatuses.
type ResourceStatus struct {
	ObjMetadata `json:",inline"`
	Status      string      `json:"status"`
	SourceHash  string      `json:"sourceHash,omitempty"`
	Conditions  []Condition `json:"conditions,omitempty"`
	Strategy    string      `json:"strategy,omitempty"`
	Actuation   string      `json:"actuation,omitempty"`
	Reconcile   string      `json:"reconcile,omitempty"`
}

// GroupStatus is one entry of status.subgroupStatuses.
type GroupStatus struct {
	GroupMetadata `json:",inline"`
	Status        string      `json:"status"`
	Conditions    []Condition `json:"conditions,omitempty"`
}

// Status is a ResourceGroup's status.
type Status struct {
	ObservedGeneration int64            `json:"observedGeneration"`
	ResourceStatuses   []ResourceStatus `json:"resourceStatuses,omitempty"`
	SubgroupStatuses   []GroupStatus    `json:"subgroupStatuses,omitempty"`
	Conditions         []Condition      `json:"conditions,omitempty"`
}

// Spec is the part of a ResourceGroup's spec the controller reads.
type Spec struct {
	Resources []ObjMetadata   `json:"resources,omitempty"`
	Subgroups []GroupMetadata `json:"subgroups,omitempty"`
}

// subgroupMetadata turns subgroups into objects of kind kpt.dev/ResourceGroup.
func subgroupMetadata(groups []GroupMetadata) []ObjMetadata {
	out := make([]ObjMetadata, len(groups))
	for i, g := range groups {
		out[i] = ObjMetadata{Namespace: g.Namespace, Name: g.Name, Group: resourceGroupGroup, Kind: resourceGroupKindName}
	}
	return out
}

// cachedStatus is what the controller remembers of a live object (resourcemap.CachedStatus).
type cachedStatus struct {
	Status         string
	Conditions     []Condition
	SourceHash     string
	InventoryID    string
	IgnoreMutation bool
	// bare marks a status that is not from the cache nor from a live object (the object could not be read): only
	// Status applies.
	bare bool
}

// computeCachedStatus is status.ComputeStatus: kstatus of the live object, its source hash (the first 7 characters
// of the configmanagement.gke.io/token annotation), its owning inventory and its mutation policy.
func computeCachedStatus(obj *unstructured.Unstructured, now time.Time) *cachedStatus {
	out := &cachedStatus{}
	result, err := kstatus.Compute(obj)
	if err != nil {
		klog.Errorf("kstatus.Compute for %v failed: %v", obj, err)
	}
	if err != nil || result == nil {
		out.Status = statusUnknown
		return out
	}
	out.Status = string(result.Status)
	if out.Status == statusFailed {
		out.Conditions = convertKstatusConditions(result.Conditions, now)
	} else if isCNRMGroup(obj.GroupVersionKind().Group) && out.Status != statusCurrent {
		conds, cErr := readKCCConditions(obj)
		if cErr != nil {
			klog.Error(cErr.Error())
			out.Conditions = convertKstatusConditions(result.Conditions, now)
		} else {
			out.Conditions = conds
		}
	}
	annotations := obj.GetAnnotations()
	out.SourceHash = truncateSourceHash(annotations[syncTokenKey])
	out.InventoryID = annotations[owningInventoryKey]
	out.IgnoreMutation = annotations[lifecycleMutationKey] == ignoreMutation
	return out
}

func truncateSourceHash(hash string) string {
	if len(hash) > 7 {
		return hash[:7]
	}
	return hash
}

func isCNRMGroup(group string) bool { return strings.HasSuffix(group, "cnrm.cloud.google.com") }

func convertKstatusConditions(conds []kstatus.Condition, now time.Time) []Condition {
	var out []Condition
	for _, c := range conds {
		out = append(out, Condition{Type: string(c.Type), Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			LastTransitionTime: metav1.NewTime(now)})
	}
	return out
}

func readKCCConditions(obj *unstructured.Unstructured) ([]Condition, error) {
	conds, found, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil {
		return nil, fmt.Errorf("failed to find .status.conditions for %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
	if !found {
		return nil, fmt.Errorf("failed to find .status.conditions for %s/%s", obj.GetNamespace(), obj.GetName())
	}
	data, err := yaml.Marshal(conds)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal conditions for %s/%s", obj.GetNamespace(), obj.GetName())
	}
	out := make([]Condition, len(conds))
	err = yaml.Unmarshal(data, &out)
	return out, err
}

// ownershipCondition says when the live object belongs to another inventory (or to none).
func ownershipCondition(id, inv string, now time.Time) *Condition {
	if id == inv {
		return nil
	}
	c := &Condition{Type: condOwnership, LastTransitionTime: metav1.NewTime(now)}
	if inv != "" {
		c.Status = condTrue
		c.Reason = ownershipUnmatch
		c.Message = fmt.Sprintf("This resource is owned by another ResourceGroup %s. "+
			"The status only reflects the specification for the current object in ResourceGroup %s.", inv, inv)
	} else {
		c.Status = condUnknown
		c.Reason = ownershipEmpty
		c.Message = "This object is not owned by any inventory object. " +
			"The status for the current object may not reflect the specification for it in current ResourceGroup."
	}
	return c
}

func setResStatus(id string, rs *ResourceStatus, cached *cachedStatus, now time.Time) {
	rs.Status = cached.Status
	rs.Conditions = append([]Condition{}, cached.Conditions...)
	rs.SourceHash = cached.SourceHash
	if c := ownershipCondition(id, cached.InventoryID, now); c != nil {
		rs.Conditions = append(rs.Conditions, *c)
	}
}

// statusLookup gives the cached status of an object, fetching it when it is not cached yet (nil: keep Unknown).
type statusLookup func(res ObjMetadata) *cachedStatus

// computeStatus is reconciler.computeStatus: each listed object's status, keeping the strategy, actuation and
// reconcile the applier (the reconciler's inventory client) wrote for it, and adjusting reconcile and status to the
// newly computed kstatus.
func computeStatus(id string, existing Status, metas []ObjMetadata, lookup statusLookup, now time.Time) []ResourceStatus {
	actuation := map[ObjMetadata]ResourceStatus{}
	for _, rs := range existing.ResourceStatuses {
		actuation[rs.ObjMetadata] = rs
	}
	statuses := []ResourceStatus{}
	for _, res := range metas {
		rs := ResourceStatus{ObjMetadata: res}
		cached := lookup(res)
		ignore := false
		switch {
		case cached == nil:
			rs.Status = statusUnknown
		case cached.bare:
			rs.Status = cached.Status
		case cached.Status == statusNotFound:
			rs.Status = statusNotFound
			ignore = cached.IgnoreMutation
		default:
			setResStatus(id, &rs, cached, now)
			ignore = cached.IgnoreMutation
		}
		if a, ok := actuation[res]; ok {
			rs.Strategy, rs.Actuation, rs.Reconcile = a.Strategy, a.Actuation, a.Reconcile
			if reconcile, err := reconcileToReflectKstatus(rs, ignore); err != nil {
				klog.Errorf("Resource object status unknown: failed to compute: %v (inventory.object %v)", err, res)
			} else {
				rs.Reconcile = reconcile
			}
			if !ignore {
				rs.Status = statusToReflectActuation(rs)
			}
		}
		statuses = append(statuses, rs)
	}
	return statuses
}

func reconcileToReflectKstatus(s ResourceStatus, ignore bool) (string, error) {
	switch s.Strategy {
	case strategyApply:
		switch s.Actuation {
		case actuationSucceeded:
			return reconcileForSuccessfulApply(s.Status, s.Reconcile)
		case actuationPending:
			return reconcilePending, nil
		case actuationSkipped:
			if ignore {
				return reconcileForSuccessfulApply(s.Status, s.Reconcile)
			}
			return reconcileSkipped, nil
		case actuationFailed:
			return reconcileSkipped, nil
		}
		return "", fmt.Errorf("invalid actuation status: %s", s.Actuation)
	case strategyDelete:
		switch s.Actuation {
		case actuationSucceeded:
			return reconcileForSuccessfulDelete(s.Status, s.Reconcile)
		case actuationPending:
			return reconcilePending, nil
		case actuationSkipped, actuationFailed:
			return reconcileSkipped, nil
		}
		return "", fmt.Errorf("invalid actuation status: %s", s.Actuation)
	}
	return "", fmt.Errorf("invalid actuation strategy: %s", s.Strategy)
}

func reconcileForSuccessfulApply(status, old string) (string, error) {
	switch status {
	case statusCurrent:
		return reconcileSucceeded, nil
	case statusInProgress:
		return reconcilePending, nil
	case statusFailed, statusTerminating, statusNotFound:
		return reconcileFailed, nil
	case statusUnknown:
		return old, nil
	}
	return "", fmt.Errorf("invalid kstatus: %s", status)
}

func reconcileForSuccessfulDelete(status, old string) (string, error) {
	switch status {
	case statusCurrent, statusInProgress, statusFailed:
		return reconcileFailed, nil
	case statusTerminating:
		return reconcilePending, nil
	case statusNotFound:
		return reconcileSucceeded, nil
	case statusUnknown:
		return old, nil
	}
	return "", fmt.Errorf("invalid kstatus: %s", status)
}

// statusToReflectActuation: the computed status stands once actuation succeeded (or is unknown); otherwise only
// NotFound and Terminating stand, and anything else is Unknown.
func statusToReflectActuation(s ResourceStatus) string {
	if s.Actuation == "" || s.Actuation == actuationSucceeded {
		return s.Status
	}
	if s.Status == statusNotFound || s.Status == statusTerminating {
		return s.Status
	}
	return statusUnknown
}

func newCondition(condType, status, reason, message string, now time.Time) Condition {
	return Condition{Type: condType, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now)}
}

// updateCondition replaces the condition of the same type when its status, reason or message changed (keeping its
// time otherwise), or appends it.
func updateCondition(conds []Condition, c Condition) []Condition {
	for i, old := range conds {
		if old.Type == c.Type {
			if !(old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message) {
				conds[i] = c
			}
			return conds
		}
	}
	return append(conds, c)
}

// adjustConditionOrder puts Reconciling then Stalled first (Unknown ones when missing), the others after by type.
func adjustConditionOrder(conds []Condition, now time.Time) []Condition {
	var reconciling, stalled Condition
	var others []Condition
	for _, c := range conds {
		switch c.Type {
		case condReconciling:
			reconciling = c
		case condStalled:
			stalled = c
		default:
			others = append(others, c)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].Type < others[j].Type })
	if reconciling.isEmpty() {
		reconciling = newCondition(condReconciling, condUnknown, "", "", now)
	}
	if stalled.isEmpty() {
		stalled = newCondition(condStalled, condUnknown, "", "", now)
	}
	return append([]Condition{reconciling, stalled}, others...)
}

// aggregateResourceStatuses is the Stalled condition: True when any object Failed.
func aggregateResourceStatuses(statuses []ResourceStatus, now time.Time) Condition {
	var failed []string
	for _, s := range statuses {
		if s.Status == statusFailed {
			failed = append(failed, s.ObjMetadata.String())
		}
	}
	if len(failed) > 0 {
		return newCondition(condStalled, condTrue, componentFailed, componentFailedMsgPrefix+strings.Join(failed, ", "), now)
	}
	return newCondition(condStalled, condFalse, finishReconciling, finishReconcilingMsg, now)
}

// reconcileTimeout is 30s per 500 objects (at least 30s, at most 5 min).
func reconcileTimeout(count int) time.Duration {
	timeout := time.Duration(count/500+1) * 30 * time.Second
	if timeout > 5*time.Minute {
		return 5 * time.Minute
	}
	return timeout
}

// endReconcilingStatus is the status the controller writes: the resource and subgroup statuses, the observed
// generation, Stalled from the statuses (or ExceedTimeout), Reconciling=False, conditions in their order.
func endReconcilingStatus(id string, spec Spec, existing Status, generation int64, lookup statusLookup, now func() time.Time) Status {
	newStatus := deepCopyStatus(existing)
	type result struct {
		resources []ResourceStatus
		subgroups []GroupStatus
	}
	done := make(chan result, 1)
	go func() {
		resources := computeStatus(id, existing, spec.Resources, lookup, now())
		subStatuses := computeStatus(id, existing, subgroupMetadata(spec.Subgroups), lookup, now())
		subgroups := make([]GroupStatus, len(subStatuses))
		for i, s := range subStatuses {
			subgroups[i] = GroupStatus{GroupMetadata: GroupMetadata{Namespace: s.Namespace, Name: s.Name}, Status: s.Status, Conditions: s.Conditions}
		}
		done <- result{resources, subgroups}
	}()
	select {
	case r := <-done:
		newStatus.ResourceStatuses = r.resources
		newStatus.SubgroupStatuses = r.subgroups
		newStatus.ObservedGeneration = generation
		newStatus.Conditions = updateCondition(newStatus.Conditions, aggregateResourceStatuses(r.resources, now()))
	case <-time.After(reconcileTimeout(len(spec.Subgroups) + len(spec.Resources))):
		newStatus.Conditions = updateCondition(newStatus.Conditions, newCondition(condStalled, condTrue, exceedTimeout, exceedTimeoutMsg, now()))
	}
	newStatus.Conditions = updateCondition(newStatus.Conditions, newCondition(condReconciling, condFalse, finishReconciling, finishReconcilingMsg, now()))
	newStatus.Conditions = adjustConditionOrder(newStatus.Conditions, now())
	return newStatus
}

func deepCopyStatus(s Status) Status {
	out := Status{ObservedGeneration: s.ObservedGeneration}
	for _, rs := range s.ResourceStatuses {
		rs.Conditions = append([]Condition(nil), rs.Conditions...)
		out.ResourceStatuses = append(out.ResourceStatuses, rs)
	}
	for _, gs := range s.SubgroupStatuses {
		gs.Conditions = append([]Condition(nil), gs.Conditions...)
		out.SubgroupStatuses = append(out.SubgroupStatuses, gs)
	}
	out.Conditions = append([]Condition(nil), s.Conditions...)
	return out
}

// Reconciled is one ResourceGroup controller reconcile of rg against the given live objects (every other listed
// object is NotFound), with an empty cache: the status it would write, and whether it would write one at all
// (false while status.observedGeneration lags the generation, i.e. the applier has not caught up).
func Reconciled(rg *unstructured.Unstructured, live []*unstructured.Unstructured, now time.Time) (Status, bool, error) {
	spec, status, err := decodeRG(rg)
	if err != nil {
		return Status{}, false, err
	}
	if status.ObservedGeneration != rg.GetGeneration() {
		return status, false, nil
	}
	byID := map[ObjMetadata]*unstructured.Unstructured{}
	for _, obj := range live {
		gvk := obj.GroupVersionKind()
		byID[ObjMetadata{Namespace: obj.GetNamespace(), Name: obj.GetName(), Group: gvk.Group, Kind: gvk.Kind}] = obj
	}
	lookup := func(res ObjMetadata) *cachedStatus {
		if obj, ok := byID[res]; ok {
			return computeCachedStatus(obj, now)
		}
		return &cachedStatus{Status: statusNotFound, bare: true}
	}
	id := rg.GetLabels()[inventoryLabel]
	return endReconcilingStatus(id, spec, status, rg.GetGeneration(), lookup, func() time.Time { return now }), true, nil
}
