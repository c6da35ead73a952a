package reconciler

// The inventory: the ResourceGroup <sync namespace>/<sync name> (kpt.dev/v1alpha1) that lists what the sync applied
// (pkg/applier/inventory/inventory_converter.go over cli-utils' inventory.UnstructuredClient): spec.resources with
// group/kind/namespace/name, and, with STATUS_MODE enabled, status.resourceStatuses (status Unknown plus the
// actuation strategy/actuation/reconcile results) and status.observedGeneration. Writes use Update / UpdateStatus
// without a field manager, so the API server names the manager after the user agent ("reconciler").

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"configsync.test/emulator/internal/core"
)

// objRef is cli-utils' object.ObjMetadata.
type objRef struct {
	Group, Kind, Namespace, Name string
}

func refOf(u *unstructured.Unstructured) objRef {
	gvk := u.GroupVersionKind()
	return objRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

func (r objRef) gk() schema.GroupKind { return schema.GroupKind{Group: r.Group, Kind: r.Kind} }

// String is ObjMetadata.String(): namespace_name_group_kind (":" in RBAC names written "__").
func (r objRef) String() string {
	name := r.Name
	if r.Group == "rbac.authorization.k8s.io" {
		name = strings.ReplaceAll(name, ":", "__")
	}
	return fmt.Sprintf("%s_%s_%s_%s", r.Namespace, name, r.Group, r.Kind)
}

// id is core.ID's String() of the object.
func (r objRef) id() string { return objID(r.gk(), r.Namespace, r.Name) }

func containsRef(refs []objRef, r objRef) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

func unionRefs(a, b []objRef) []objRef {
	out := append([]objRef{}, a...)
	for _, r := range b {
		if !containsRef(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func diffRefs(a, b []objRef) []objRef {
	var out []objRef
	for _, r := range a {
		if !containsRef(b, r) {
			out = append(out, r)
		}
	}
	return out
}

func intersectRefs(a, b []objRef) []objRef {
	var out []objRef
	for _, r := range a {
		if containsRef(b, r) {
			out = append(out, r)
		}
	}
	return out
}

// Actuation strategy/status and reconcile status values (cli-utils apis/actuation).
const (
	strategyApply  = "Apply"
	strategyDelete = "Delete"
	stPending      = "Pending"
	stSucceeded    = "Succeeded"
	stSkipped      = "Skipped"
	stFailed       = "Failed"
	stTimeout      = "Timeout"
)

type objStatus struct {
	ref       objRef
	strategy  string
	actuation string
	reconcile string
	uid       string
}

// invManager is cli-utils' inventory.Manager: the statuses of this run, in the order they were first set.
type invManager struct{ statuses []*objStatus }

func (m *invManager) get(r objRef) *objStatus {
	for _, s := range m.statuses {
		if s.ref == r {
			return s
		}
	}
	return nil
}

func (m *invManager) set(s objStatus) {
	if old := m.get(s.ref); old != nil {
		*old = s
		return
	}
	m.statuses = append(m.statuses, &s)
}

func (m *invManager) setReconcile(r objRef, reconcile string) {
	if s := m.get(r); s != nil {
		s.reconcile = reconcile
	}
}

func (m *invManager) with(strategy, actuation string) []objRef {
	var out []objRef
	for _, s := range m.statuses {
		if s.strategy == strategy && s.actuation == actuation {
			out = append(out, s.ref)
		}
	}
	return out
}

func (m *invManager) withReconcile(reconcile string) []objRef {
	var out []objRef
	for _, s := range m.statuses {
		if s.reconcile == reconcile {
			out = append(out, s.ref)
		}
	}
	return out
}

// inventory reads and writes the ResourceGroup.
type inventory struct {
	dyn                        dynamic.Interface
	syncKind, syncName, syncNS string
	statusMode                 string
}

var resourceGroupGVK = schema.GroupVersionKind{Group: "kpt.dev", Version: "v1alpha1", Kind: "ResourceGroup"}

func (inv *inventory) client() dynamic.ResourceInterface {
	return inv.dyn.Resource(core.ResourceGroupGVR).Namespace(inv.syncNS)
}

func (inv *inventory) id() string { return inventoryID(inv.syncName, inv.syncNS) }

// load returns the inventory's object references (nil, nil when there is no ResourceGroup).
func (inv *inventory) load(ctx context.Context) ([]objRef, bool, error) {
	obj, err := inv.client().Get(ctx, inv.syncName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return refsFromResourceGroup(obj), true, nil
}

func refsFromResourceGroup(obj *unstructured.Unstructured) []objRef {
	resources, _, _ := unstructured.NestedSlice(obj.Object, "spec", "resources")
	var refs []objRef
	for _, r := range resources {
		m, ok := r.(map[string]interface{})
		if !ok {
			continue
		}
		str := func(k string) string {
			v, _ := m[k].(string)
			return strings.TrimSpace(v)
		}
		refs = append(refs, objRef{Group: str("group"), Kind: str("kind"), Namespace: str("namespace"), Name: str("name")})
	}
	return refs
}

// setMeta is ResourceGroupInventoryConverter.setMeta.
func (inv *inventory) setMeta(obj *unstructured.Unstructured) {
	setLabel(obj, lblManagedBy, managedByValue)
	setLabel(obj, lblSyncNamespace, inv.syncNS)
	setLabel(obj, lblSyncName, inv.syncName)
	setLabel(obj, lblSyncKind, inv.syncKind)
	setAnnotation(obj, annManaged, managementEnabled)
	setAnnotation(obj, annStatusMode, inv.statusMode)
}

// store is UnstructuredClient.CreateOrUpdate: the spec (create or update), then, with status mode enabled, the
// status through the status subresource.
func (inv *inventory) store(ctx context.Context, refs []objRef, statuses []*objStatus) error {
	var obj *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := inv.client().Get(ctx, inv.syncName, metav1.GetOptions{})
		create := false
		if apierrors.IsNotFound(err) {
			create = true
			cur = &unstructured.Unstructured{Object: map[string]interface{}{}}
			cur.SetGroupVersionKind(resourceGroupGVK)
			cur.SetName(inv.syncName)
			cur.SetNamespace(inv.syncNS)
			cur.SetLabels(map[string]string{lblInventoryID: inv.id()})
		} else if err != nil {
			return err
		}
		u := cur.DeepCopy()
		inv.setMeta(u)
		if len(refs) == 0 {
			unstructured.RemoveNestedField(u.Object, "spec", "resources")
		} else {
			list := make([]interface{}, len(refs))
			for i, r := range refs {
				list[i] = map[string]interface{}{"group": r.Group, "kind": r.Kind, "namespace": r.Namespace, "name": r.Name}
			}
			if err := unstructured.SetNestedSlice(u.Object, list, "spec", "resources"); err != nil {
				return err
			}
		}
		unstructured.RemoveNestedField(u.Object, "status")
		if create {
			obj, err = inv.client().Create(ctx, u, metav1.CreateOptions{})
		} else {
			obj, err = inv.client().Update(ctx, u, metav1.UpdateOptions{})
		}
		return err
	})
	if err != nil {
		return err
	}
	if inv.statusMode != "enabled" {
		return nil
	}
	attempt := 0
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		defer func() { attempt++ }()
		if attempt > 0 {
			var err error
			if obj, err = inv.client().Get(ctx, inv.syncName, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		u := obj.DeepCopy()
		inv.setMeta(u)
		unstructured.RemoveNestedField(u.Object, "spec")
		var list []interface{}
		for _, r := range refs {
			for _, s := range statuses {
				if s.ref == r {
					list = append(list, map[string]interface{}{
						"group": r.Group, "kind": r.Kind, "namespace": r.Namespace, "name": r.Name,
						"status": "Unknown", "strategy": s.strategy, "actuation": s.actuation, "reconcile": s.reconcile,
					})
					break
				}
			}
		}
		if len(list) == 0 {
			unstructured.RemoveNestedField(u.Object, "status", "resourceStatuses")
		} else if err := unstructured.SetNestedSlice(u.Object, list, "status", "resourceStatuses"); err != nil {
			return err
		}
		if err := unstructured.SetNestedField(u.Object, u.GetGeneration(), "status", "observedGeneration"); err != nil {
			return err
		}
		if _, err := inv.client().UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updateStatus: %w", err)
		}
		return nil
	})
}

// updateStatusMode is supervisor.UpdateStatusMode: at start, an existing ResourceGroup gets the status annotation.
func (inv *inventory) updateStatusMode(ctx context.Context) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rg, err := inv.client().Get(ctx, inv.syncName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if rg.GetAnnotations()[annStatusMode] == inv.statusMode {
			return nil
		}
		setAnnotation(rg, annStatusMode, inv.statusMode)
		_, err = inv.client().Update(ctx, rg, metav1.UpdateOptions{FieldManager: fieldManager})
		return err
	})
}

// remove is UnstructuredClient.Delete.
func (inv *inventory) remove(ctx context.Context) error {
	err := inv.client().Delete(ctx, inv.syncName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}
