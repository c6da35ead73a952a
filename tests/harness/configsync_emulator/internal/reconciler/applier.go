package reconciler

// The applier (pkg/applier/applier.go over cli-utils' apply.Applier and apply.Destroyer, v0.37): a status watcher
// first lists every kind in scope with the reconciler's identity (a forbidden list aborts the run before any task:
// "polling for status failed: failed to list <gvk>: <error>"), then the task queue runs: inventory-add, for each
// dependency level (Namespaces and CRDs before what lives in them, depends-on annotations) an apply task (server-side
// apply, field manager configsync.gke.io, force) and a wait task (kstatus Current), then prune tasks in reverse order
// (delete, background propagation) with waits (NotFound), then inventory-set. Errors become KNV2009 with the texts of
// applier_err.go.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type applier struct {
	dyn              dynamic.Interface
	mapper           meta.ResettableRESTMapper
	inv              *inventory
	adoptAll         bool // RootSync: PolicyAdoptAll; RepoSync: PolicyAdoptIfNoInventory
	applySetID       string
	reconcileTimeout time.Duration
	pollInterval     time.Duration
}

// applyResult is what the supervisor reports: sync errors (KNV2009) and management conflicts (KNV1060).
type applyResult struct {
	errs      MultiError
	conflicts MultiError
}

func (r *applyResult) add(e *Error) { r.errs = append(r.errs, e) }

func (a *applier) resourceFor(r objRef) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	mapping, err := a.mapper.RESTMapping(r.gk())
	if err != nil {
		return nil, nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(mapping.Resource).Namespace(r.Namespace), mapping, nil
	}
	return a.dyn.Resource(mapping.Resource), mapping, nil
}

// --- dependency graph (cli-utils object/graph, ordering) ---

var kindOrderFirst = []schema.GroupKind{
	{Kind: "Namespace"}, {Kind: "ResourceQuota"}, {Group: "storage.k8s.io", Kind: "StorageClass"},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}, {Kind: "ServiceAccount"},
	{Group: "extensions", Kind: "PodSecurityPolicy"}, {Group: "policy", Kind: "PodSecurityPolicy"},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
	{Kind: "ConfigMap"}, {Kind: "Secret"}, {Kind: "Service"}, {Kind: "LimitRange"},
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}, {Group: "extensions", Kind: "Deployment"},
	{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "StatefulSet"}, {Group: "batch", Kind: "CronJob"},
	{Group: "policy", Kind: "PodDisruptionBudget"},
}

func kindIndex(gk schema.GroupKind) int {
	for i, k := range kindOrderFirst {
		if k == gk {
			return -len(kindOrderFirst) + i
		}
	}
	if gk == (schema.GroupKind{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}) {
		return 1
	}
	return 0
}

func lessRef(i, j objRef) bool {
	if i.gk() != j.gk() {
		ii, ij := kindIndex(i.gk()), kindIndex(j.gk())
		if ii != ij {
			return ii < ij
		}
		if i.Group != j.Group {
			return i.Group < j.Group
		}
		return i.Kind < j.Kind
	}
	if i.Namespace != j.Namespace {
		return i.Namespace < j.Namespace
	}
	return i.Name < j.Name
}

// parseDependsOn reads config.kubernetes.io/depends-on: "group/kind/name" or "group/namespaces/ns/kind/name", comma separated.
func parseDependsOn(value string) []objRef {
	var out []objRef
	for _, s := range strings.Split(value, ",") {
		f := strings.Split(strings.TrimSpace(s), "/")
		switch len(f) {
		case 3:
			out = append(out, objRef{Group: f[0], Kind: f[1], Name: f[2]})
		case 5:
			if f[1] == "namespaces" {
				out = append(out, objRef{Group: f[0], Namespace: f[2], Kind: f[3], Name: f[4]})
			}
		}
	}
	return out
}

// sortObjects builds the dependency graph of all objects (applied and pruned) and returns the levels, leaves first.
func sortObjects(objs []*unstructured.Unstructured) (levels [][]objRef, deps map[objRef][]objRef) {
	ids := make([]objRef, len(objs))
	edges := map[objRef][]objRef{}
	for i, o := range objs {
		ids[i] = refOf(o)
		edges[ids[i]] = nil
	}
	addEdge := func(from, to objRef) {
		if !containsRef(edges[from], to) {
			edges[from] = append(edges[from], to)
		}
	}
	crds := map[schema.GroupKind]objRef{}
	namespaces := map[string]objRef{}
	for i, o := range objs {
		switch gkOf(o) {
		case gkCRD:
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			crds[schema.GroupKind{Group: group, Kind: kind}] = ids[i]
		case gkNamespace:
			namespaces[o.GetName()] = ids[i]
		}
	}
	for i, o := range objs {
		if to, ok := crds[gkOf(o)]; ok {
			addEdge(ids[i], to)
		}
		if o.GetNamespace() != "" {
			if to, ok := namespaces[o.GetNamespace()]; ok {
				addEdge(ids[i], to)
			}
		}
		if v, ok := o.GetAnnotations()[annDependsOn]; ok {
			for _, dep := range parseDependsOn(v) {
				if _, known := edges[dep]; known {
					addEdge(ids[i], dep)
				}
			}
		}
	}
	deps = map[objRef][]objRef{}
	for k, v := range edges {
		deps[k] = append([]objRef{}, v...)
	}
	remaining := map[objRef][]objRef{}
	for k, v := range edges {
		remaining[k] = append([]objRef{}, v...)
	}
	for len(remaining) > 0 {
		var leaves []objRef
		for v, adj := range remaining {
			if len(adj) == 0 {
				leaves = append(leaves, v)
			}
		}
		if len(leaves) == 0 {
			// A cycle: the rest in one level (cli-utils reports it as invalid objects).
			for v := range remaining {
				leaves = append(leaves, v)
			}
		}
		for _, l := range leaves {
			delete(remaining, l)
		}
		for v, adj := range remaining {
			var kept []objRef
			for _, x := range adj {
				if !containsRef(leaves, x) {
					kept = append(kept, x)
				}
			}
			remaining[v] = kept
		}
		sort.Slice(leaves, func(i, j int) bool { return lessRef(leaves[i], leaves[j]) })
		levels = append(levels, leaves)
	}
	return levels, deps
}

// --- the status watcher's initial list (cli-utils kstatus/watcher) ---

// checkStatusWatch lists (and watches) every kind the run touches, scoped as DefaultStatusWatcher scopes it: per
// GroupKind across namespaces when the objects span more than one namespace, else per GroupKind and namespace.
func (a *applier) checkStatusWatch(ctx context.Context, refs []objRef) error {
	nsSet := map[string]bool{}
	for _, r := range refs {
		nsSet[r.Namespace] = true
	}
	type target struct {
		gk schema.GroupKind
		ns string
	}
	var targets []target
	seen := map[target]bool{}
	for _, r := range refs {
		t := target{gk: r.gk(), ns: r.Namespace}
		if len(nsSet) > 1 {
			t.ns = ""
		}
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	selector := labels.Set{lblApplySetPartOf: a.applySetID}.AsSelector().String()
	for _, t := range targets {
		mapping, err := a.mapper.RESTMapping(t.gk)
		if err != nil {
			continue // type not registered (yet): the informer waits for its CRD
		}
		var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace && t.ns != "" {
			ri = a.dyn.Resource(mapping.Resource).Namespace(t.ns)
		}
		_, err = ri.List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0", Limit: 1})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			if apierrors.IsForbidden(err) {
				return pollingListError(mapping.GroupVersionKind, err)
			}
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		w, err := ri.Watch(wctx, metav1.ListOptions{LabelSelector: selector, AllowWatchBookmarks: true})
		if err == nil {
			w.Stop()
		}
		cancel()
		if err != nil && apierrors.IsForbidden(err) {
			return fmt.Errorf("polling for status failed: %w", err)
		}
	}
	return nil
}

// pollingListError is the status watcher's fatal list error as the task runner reports it.
func pollingListError(gvk schema.GroupVersionKind, err error) error {
	return fmt.Errorf("polling for status failed: %w", fmt.Errorf("failed to list %v: %w", gvk, err))
}

// applyFailedError is ErrorForResourceWithResource: KNV2009 "failed to apply <id>: <error>" plus the declared object.
func applyFailedError(err error, r objRef, declared *unstructured.Unstructured) *Error {
	return newBuilder(codeApplier).sprintf("failed to apply %v", r.id()).wrap(err).withResources(declared)
}

// --- apply ---

func sanitize(u *unstructured.Unstructured) *unstructured.Unstructured {
	c := u.DeepCopy()
	unstructured.RemoveNestedField(c.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(c.Object, "status")
	unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
	return c
}

// applyRun applies declared (already carrying Config Sync's metadata) and prunes what left the inventory.
func (a *applier) applyRun(ctx context.Context, declared []*unstructured.Unstructured) *applyResult {
	res := &applyResult{}
	a.mapper.Reset()
	prevRefs, _, err := a.inv.load(ctx)
	if err != nil {
		res.add(applierError(err))
		return res
	}
	applyObjs := make([]*unstructured.Unstructured, len(declared))
	byRef := map[objRef]*unstructured.Unstructured{}
	var applyRefs []objRef
	for i, d := range declared {
		applyObjs[i] = sanitize(d)
		r := refOf(applyObjs[i])
		byRef[r] = declared[i]
		applyRefs = append(applyRefs, r)
	}
	// Prune candidates: inventory objects no longer declared that still exist.
	var pruneObjs []*unstructured.Unstructured
	for _, r := range diffRefs(prevRefs, applyRefs) {
		ri, _, err := a.resourceFor(r)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			res.add(applierError(err))
			return res
		}
		obj, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			res.add(applierError(err))
			return res
		}
		pruneObjs = append(pruneObjs, obj)
	}
	var pruneRefs []objRef
	for _, o := range pruneObjs {
		pruneRefs = append(pruneRefs, refOf(o))
	}
	all := append(append([]*unstructured.Unstructured{}, applyObjs...), pruneObjs...)
	levels, deps := sortObjects(all)

	if err := a.checkStatusWatch(ctx, append(append([]objRef{}, applyRefs...), pruneRefs...)); err != nil {
		res.add(applierError(err))
		return res
	}

	mgr := &invManager{}
	for _, r := range applyRefs {
		mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stPending, reconcile: stPending})
	}
	for _, r := range pruneRefs {
		mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stPending, reconcile: stPending})
	}

	// inventory-add-0
	union := unionRefs(prevRefs, applyRefs)
	var addStatuses []*objStatus
	for _, r := range union {
		st := strategyApply
		if !containsRef(applyRefs, r) {
			st = strategyDelete
		}
		addStatuses = append(addStatuses, &objStatus{ref: r, strategy: st, actuation: stPending, reconcile: stPending})
	}
	if err := a.inv.store(ctx, union, addStatuses); err != nil {
		res.add(applierError(fmt.Errorf("task failed (action: %q, name: %q): %w", "Inventory", "inventory-add-0", err)))
		return res
	}

	// apply-N / wait-N
	for _, level := range levels {
		var set []objRef
		for _, r := range level {
			if containsRef(applyRefs, r) {
				set = append(set, r)
			}
		}
		if len(set) == 0 {
			continue
		}
		for _, r := range set {
			a.applyOne(ctx, r, byRef[r], mgr, deps, res)
		}
		a.wait(ctx, set, mgr, false)
	}

	// prune-N / wait-N, in reverse order
	localNamespaces := map[string]bool{a.inv.syncNS: true}
	for _, r := range applyRefs {
		if r.Namespace != "" {
			localNamespaces[r.Namespace] = true
		}
	}
	pruneByRef := map[objRef]*unstructured.Unstructured{}
	for _, o := range pruneObjs {
		pruneByRef[refOf(o)] = o
	}
	var abandoned []objRef
	for i := len(levels) - 1; i >= 0; i-- {
		var set []objRef
		for j := len(levels[i]) - 1; j >= 0; j-- {
			if r := levels[i][j]; containsRef(pruneRefs, r) {
				set = append(set, r)
			}
		}
		if len(set) == 0 {
			continue
		}
		for _, r := range set {
			if a.pruneOne(ctx, r, pruneByRef[r], mgr, deps, localNamespaces, metav1.DeletePropagationBackground, res) {
				abandoned = append(abandoned, r)
			}
		}
		a.wait(ctx, set, mgr, true)
	}

	// inventory-set-0
	final := mgr.with(strategyApply, stSucceeded)
	final = unionRefs(final, intersectRefs(union, mgr.with(strategyApply, stFailed)))
	final = unionRefs(final, intersectRefs(union, mgr.with(strategyApply, stSkipped)))
	final = unionRefs(final, intersectRefs(union, mgr.with(strategyDelete, stFailed)))
	final = unionRefs(final, intersectRefs(union, mgr.with(strategyDelete, stSkipped)))
	final = unionRefs(final, intersectRefs(union, mgr.withReconcile(stFailed)))
	final = unionRefs(final, intersectRefs(union, mgr.withReconcile(stTimeout)))
	final = diffRefs(final, abandoned)
	if err := a.inv.store(ctx, final, mgr.statuses); err != nil {
		res.add(applierError(fmt.Errorf("task failed (action: %q, name: %q): %w", "Inventory", "inventory-set-0", err)))
	}
	return res
}

// dependencyFilter is cli-utils' DependencyFilter: a dependency (or, for deletes, a dependent) that failed or was
// skipped prevents the actuation.
func dependencyFilter(r objRef, strategy string, mgr *invManager, deps map[objRef][]objRef) error {
	var related []objRef
	relationship := "dependency"
	if strategy == strategyApply {
		related = deps[r]
	} else {
		relationship = "dependent"
		for from, tos := range deps {
			if containsRef(tos, r) {
				related = append(related, from)
			}
		}
	}
	for _, b := range related {
		st := mgr.get(b)
		if st == nil {
			continue
		}
		if st.strategy != strategy {
			return fmt.Errorf("%s scheduled for %s: %s", relationship, strings.ToLower(st.strategy), b)
		}
		switch st.actuation {
		case stSkipped, stFailed:
			return fmt.Errorf("%s %s actuation %s: %s", relationship, strings.ToLower(strategy), strings.ToLower(st.actuation), b)
		}
		switch st.reconcile {
		case stSkipped, stFailed, stTimeout:
			return fmt.Errorf("%s %s reconcile %s: %s", relationship, strings.ToLower(strategy), strings.ToLower(st.reconcile), b)
		}
	}
	return nil
}

// skipError is SkipErrorForResource.
func skipError(err error, r objRef, strategy string) *Error {
	return applierError(fmt.Errorf("skipped %s of %v: %w", strings.ToLower(strategy), r.id(), err))
}

func (a *applier) applyOne(ctx context.Context, r objRef, declared *unstructured.Unstructured, mgr *invManager,
	deps map[objRef][]objRef, res *applyResult) {
	obj := sanitize(declared)
	ri, _, err := a.resourceFor(r)
	if err != nil {
		mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stFailed, reconcile: stPending})
		res.add(applyFailedError(err, r, declared))
		return
	}
	// InventoryPolicyApplyFilter (RepoSync only): another inventory's object is a management conflict.
	if !a.adoptAll {
		cur, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case err == nil:
			if owner, found := cur.GetAnnotations()[annOwningInventory]; found && owner != a.inv.id() {
				mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stSkipped, reconcile: stPending})
				res.conflicts = append(res.conflicts, kptManagementConflictError(declared))
				return
			}
		case !apierrors.IsNotFound(err):
			mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stFailed, reconcile: stPending})
			res.add(applyFailedError(fmt.Errorf("failed to get current object from cluster: %w", err), r, declared))
			return
		}
	}
	// PreventUpdateFilter: client.lifecycle.config.k8s.io/mutation: ignore on an existing object.
	if declared.GetAnnotations()[annLifecycleMutation] == ignoreMutation {
		cur, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
		if err == nil {
			mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stSkipped, reconcile: stPending})
			// Config Sync then patches its metadata onto the object (updateObjectMetadata).
			a.patchCSMetadata(ctx, ri, cur, declared)
			return
		} else if !apierrors.IsNotFound(err) {
			mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stFailed, reconcile: stPending})
			res.add(applyFailedError(fmt.Errorf("failed to get current object from cluster: %w", err), r, declared))
			return
		}
	}
	if err := dependencyFilter(r, strategyApply, mgr, deps); err != nil {
		mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stSkipped, reconcile: stPending})
		res.add(skipError(err, r, strategyApply))
		return
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stFailed, reconcile: stPending})
		res.add(applyFailedError(err, r, declared))
		return
	}
	force := true
	applied, err := ri.Patch(ctx, r.Name, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
	if err != nil {
		mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stFailed, reconcile: stPending})
		res.add(applyFailedError(err, r, declared))
		return
	}
	mgr.set(objStatus{ref: r, strategy: strategyApply, actuation: stSucceeded, reconcile: stPending, uid: string(applied.GetUID())})
}

func kptManagementConflictError(obj *unstructured.Unstructured) *Error {
	manager := obj.GetAnnotations()[annManager]
	return newBuilder(codeManagementConflict).sprintf("The %q reconciler detected a management conflict with another reconciler. "+
		"Remove the object from one of the sources of truth so that the object is only managed by one reconciler.", manager).
		withResources(obj)
}

// patchCSMetadata is supervisor.updateObjectMetadata: a merge patch of the declared Config Sync metadata.
func (a *applier) patchCSMetadata(ctx context.Context, ri dynamic.ResourceInterface, cur, declared *unstructured.Unstructured) {
	anns := map[string]interface{}{}
	for k, v := range declared.GetAnnotations() {
		if isConfigSyncAnnotation(k, v) && cur.GetAnnotations()[k] != v {
			anns[k] = v
		}
	}
	lbls := map[string]interface{}{}
	for k, v := range declared.GetLabels() {
		if isConfigSyncLabel(k, v) && cur.GetLabels()[k] != v {
			lbls[k] = v
		}
	}
	if len(anns) == 0 && len(lbls) == 0 {
		return
	}
	patch, _ := json.Marshal(map[string]interface{}{"metadata": map[string]interface{}{"annotations": anns, "labels": lbls}})
	if _, err := ri.Patch(ctx, cur.GetName(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		logf("patching Config Sync metadata of %s: %v", cur.GetName(), err)
	}
}

// pruneOne deletes one object that left the source, unless a filter prevents it; returns whether it was abandoned.
func (a *applier) pruneOne(ctx context.Context, r objRef, obj *unstructured.Unstructured, mgr *invManager,
	deps map[objRef][]objRef, localNamespaces map[string]bool, propagation metav1.DeletionPropagation, res *applyResult) bool {
	skip := func(err error, isErr bool) {
		mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stSkipped, reconcile: stPending})
		if isErr {
			res.add(skipError(err, r, strategyDelete))
		}
	}
	ri, _, err := a.resourceFor(r)
	if err != nil {
		mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stFailed, reconcile: stPending})
		res.add(applierError(fmt.Errorf("failed to prune %v: %w", r.id(), err)))
		return false
	}
	// A protected namespace is only abandoned (handleDeleteSkippedEvent).
	abandonSpecial := gkOf(obj) == gkNamespace && specialNamespaces[obj.GetName()]
	// PreventRemoveFilter
	for k, v := range obj.GetAnnotations() {
		if (k == annOnRemove && v == "keep") || (k == annLifecycleDeletion && v == preventDeletion) {
			a.abandon(ctx, ri, obj)
			skip(nil, false)
			return true
		}
	}
	// InventoryPolicyPruneFilter
	owner, found := obj.GetAnnotations()[annOwningInventory]
	if found && owner != a.inv.id() && !a.adoptAll {
		skip(nil, false)
		if abandonSpecial {
			a.abandon(ctx, ri, obj)
		}
		return false
	}
	// LocalNamespacesFilter
	if gkOf(obj) == gkNamespace && localNamespaces != nil && localNamespaces[obj.GetName()] {
		if abandonSpecial {
			a.abandon(ctx, ri, obj)
		}
		skip(fmt.Errorf("namespace still in use: %s", obj.GetName()), true)
		return false
	}
	if err := dependencyFilter(r, strategyDelete, mgr, deps); err != nil {
		if abandonSpecial {
			a.abandon(ctx, ri, obj)
		}
		skip(err, true)
		return false
	}
	uid := obj.GetUID()
	err = ri.Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &propagation})
	if err != nil && !apierrors.IsNotFound(err) {
		mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stFailed, reconcile: stPending})
		res.add(applierError(fmt.Errorf("failed to prune %v: %w", r.id(), err)))
		return false
	}
	mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stSucceeded, reconcile: stPending, uid: string(uid)})
	return false
}

// abandon removes the owning-inventory annotation and Config Sync's metadata (Pruner.removeInventoryAnnotation,
// supervisor.abandonObject).
func (a *applier) abandon(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) {
	patch := removeConfigSyncMetadata(obj, a.applySetID)
	if patch == nil {
		return
	}
	b, _ := json.Marshal(patch)
	if _, err := ri.Patch(ctx, obj.GetName(), types.MergePatchType, b, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		logf("abandoning %s: %v", obj.GetName(), err)
	}
}

// wait is the wait task: applied objects until kstatus says Current, pruned ones until they are gone, each within
// the reconcile timeout; objects whose actuation did not succeed are skipped.
func (a *applier) wait(ctx context.Context, set []objRef, mgr *invManager, deleted bool) {
	pending := map[objRef]bool{}
	for _, r := range set {
		st := mgr.get(r)
		if st == nil || st.actuation != stSucceeded {
			mgr.setReconcile(r, stSkipped)
			continue
		}
		pending[r] = true
	}
	deadline := time.Now().Add(a.reconcileTimeout)
	for len(pending) > 0 {
		for r := range pending {
			done, failed := a.reconciled(ctx, r, mgr.get(r), deleted)
			if done {
				if failed {
					mgr.setReconcile(r, stFailed)
				} else {
					mgr.setReconcile(r, stSucceeded)
				}
				delete(pending, r)
			}
		}
		if len(pending) == 0 {
			return
		}
		if a.reconcileTimeout > 0 && time.Now().After(deadline) {
			for r := range pending {
				mgr.setReconcile(r, stTimeout)
			}
			return
		}
		select {
		case <-ctx.Done():
			for r := range pending {
				mgr.setReconcile(r, stTimeout)
			}
			return
		case <-time.After(a.pollInterval):
		}
	}
}

func (a *applier) reconciled(ctx context.Context, r objRef, st *objStatus, deleted bool) (done, failed bool) {
	ri, _, err := a.resourceFor(r)
	if err != nil {
		return deleted, false
	}
	obj, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
	if deleted {
		if apierrors.IsNotFound(err) {
			return true, false
		}
		if err == nil && st != nil && st.uid != "" && string(obj.GetUID()) != st.uid {
			return true, false // replaced by a new object
		}
		return false, false
	}
	if err != nil {
		return false, false
	}
	result, err := kstatus.Compute(obj)
	if err != nil {
		return false, false
	}
	switch result.Status {
	case kstatus.CurrentStatus:
		return true, false
	case kstatus.FailedStatus:
		return true, true
	}
	return false, false
}

// --- destroy (Foreground deletion of the sync object) ---

// destroyRun is the cli-utils Destroyer: every inventory object is deleted (foreground), waited for, and the
// ResourceGroup is deleted when nothing failed.
func (a *applier) destroyRun(ctx context.Context) MultiError {
	res := &applyResult{}
	a.mapper.Reset()
	refs, found, err := a.inv.load(ctx)
	if err != nil {
		return MultiError{applierError(err)}
	}
	if !found {
		return nil
	}
	var objs []*unstructured.Unstructured
	for _, r := range refs {
		ri, _, err := a.resourceFor(r)
		if err != nil {
			continue
		}
		obj, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return MultiError{applierError(err)}
		}
		objs = append(objs, obj)
	}
	var delRefs []objRef
	for _, o := range objs {
		delRefs = append(delRefs, refOf(o))
	}
	if err := a.checkStatusWatch(ctx, delRefs); err != nil {
		return MultiError{applierError(err)}
	}
	levels, deps := sortObjects(objs)
	mgr := &invManager{}
	for _, r := range delRefs {
		mgr.set(objStatus{ref: r, strategy: strategyDelete, actuation: stPending, reconcile: stPending})
	}
	byRef := map[objRef]*unstructured.Unstructured{}
	for _, o := range objs {
		byRef[refOf(o)] = o
	}
	var abandoned []objRef
	for i := len(levels) - 1; i >= 0; i-- {
		var set []objRef
		for j := len(levels[i]) - 1; j >= 0; j-- {
			set = append(set, levels[i][j])
		}
		for _, r := range set {
			if a.pruneOne(ctx, r, byRef[r], mgr, deps, nil, metav1.DeletePropagationForeground, res) {
				abandoned = append(abandoned, r)
			}
		}
		a.wait(ctx, set, mgr, true)
		for _, r := range set {
			if st := mgr.get(r); st != nil && (st.reconcile == stFailed || st.reconcile == stTimeout) {
				res.add(applierError(fmt.Errorf("failed to wait for %v: %w", r.id(), fmt.Errorf("reconcile %s", strings.ToLower(st.reconcile)))))
			}
		}
	}
	failedDeletes := mgr.with(strategyDelete, stFailed)
	if len(failedDeletes) == 0 && len(mgr.withReconcile(stFailed)) == 0 && len(mgr.withReconcile(stTimeout)) == 0 {
		if err := a.inv.remove(ctx); err != nil {
			res.add(applierError(fmt.Errorf("task failed (action: %q, name: %q): %w", "Inventory", "inventory-delete-or-update-0", err)))
		}
	} else {
		final := unionRefs(intersectRefs(refs, failedDeletes), intersectRefs(refs, mgr.with(strategyDelete, stSkipped)))
		final = unionRefs(final, intersectRefs(refs, mgr.withReconcile(stFailed)))
		final = unionRefs(final, intersectRefs(refs, mgr.withReconcile(stTimeout)))
		final = diffRefs(final, abandoned)
		if err := a.inv.store(ctx, final, mgr.statuses); err != nil {
			res.add(applierError(err))
		}
	}
	return append(res.errs, res.conflicts...)
}
