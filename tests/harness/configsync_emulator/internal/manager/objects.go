package manager

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"configsync.test/emulator/internal/core"
)

// deleteWaitTimeout is how long a teardown waits for one object to be gone (garbage_collector.go).
const deleteWaitTimeout = 30 * time.Second

var (
	deploymentGVR     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	serviceAccountGVR = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	configMapGVR      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretGVR         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	crbGVR            = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	rbGVR             = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
	crdGVR            = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

func createOpts() metav1.CreateOptions { return metav1.CreateOptions{FieldManager: fieldManager} }
func updateOpts() metav1.UpdateOptions { return metav1.UpdateOptions{FieldManager: fieldManager} }

func serviceAccountSubject(reconcilerName string) rbacv1.Subject {
	return rbacv1.Subject{Kind: "ServiceAccount", Name: reconcilerName, Namespace: core.SystemNamespace}
}

func roleReference(name, kind string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: kind, Name: name}
}

func subjectIndex(list []rbacv1.Subject, s rbacv1.Subject) int {
	for i, found := range list {
		if found == s {
			return i
		}
	}
	return -1
}

// addSubject appends the subject if missing and sorts the list (permissions.go).
func addSubject(list []rbacv1.Subject, s rbacv1.Subject) []rbacv1.Subject {
	if subjectIndex(list, s) >= 0 {
		return list
	}
	list = append(list, s)
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.APIGroup != b.APIGroup {
			return a.APIGroup < b.APIGroup
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return list
}

func removeSubject(list []rbacv1.Subject, s rbacv1.Subject) []rbacv1.Subject {
	i := subjectIndex(list, s)
	if i < 0 {
		return list
	}
	return append(append([]rbacv1.Subject{}, list[:i]...), list[i+1:]...)
}

func addLabels(dst map[string]string, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func copyStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// upsertServiceAccount creates or updates the reconciler KSA (reconciler_base.go upsertServiceAccount).
func (m *Manager) upsertServiceAccount(ctx context.Context, log logger, s *syncObject, auth, email string) error {
	name := s.reconcilerName()
	id := objectID{Kind: "ServiceAccount", Namespace: core.SystemNamespace, Name: name}
	client := m.clients.Typed.CoreV1().ServiceAccounts(core.SystemNamespace)
	mutate := func(sa *corev1.ServiceAccount) {
		sa.Labels = addLabels(sa.Labels, managedObjectLabels(s.Kind, s.Namespace, s.Name))
		if auth == authGCPServiceAccount {
			if sa.Annotations == nil {
				sa.Annotations = map[string]string{}
			}
			sa.Annotations[gcpSAAnnotation] = email
		} else if sa.Annotations != nil {
			delete(sa.Annotations, gcpSAAnnotation)
			if len(sa.Annotations) == 0 {
				sa.Annotations = nil
			}
		}
	}
	current, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: core.SystemNamespace}}
		mutate(sa)
		if _, err := client.Create(ctx, sa, createOpts()); err != nil {
			return &operationError{ID: id, Operation: "create", Cause: err}
		}
		log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "created")
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	desired := current.DeepCopy()
	mutate(desired)
	if reflect.DeepEqual(current.Labels, desired.Labels) && reflect.DeepEqual(current.Annotations, desired.Annotations) {
		return nil
	}
	if _, err := client.Update(ctx, desired, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "updated")
	return nil
}

// upsertSharedClusterRoleBinding adds the reconciler to a ClusterRoleBinding shared by all syncs of a kind.
func (m *Manager) upsertSharedClusterRoleBinding(ctx context.Context, log logger, s *syncObject, name, clusterRole string) error {
	id := objectID{Kind: "ClusterRoleBinding", Name: name}
	client := m.clients.Typed.RbacV1().ClusterRoleBindings()
	lbls := managedObjectLabels(s.Kind, s.Namespace, s.Name)
	delete(lbls, syncNameLabel)
	subject := serviceAccountSubject(s.reconcilerName())
	current, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
			RoleRef: roleReference(clusterRole, "ClusterRole"), Subjects: []rbacv1.Subject{subject}}
		if _, err := client.Create(ctx, crb, createOpts()); err != nil {
			return &operationError{ID: id, Operation: "create", Cause: err}
		}
		log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "created")
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	desired := current.DeepCopy()
	desired.Labels = addLabels(desired.Labels, lbls)
	desired.RoleRef = roleReference(clusterRole, "ClusterRole")
	desired.Subjects = addSubject(append([]rbacv1.Subject{}, desired.Subjects...), subject)
	desired.OwnerReferences = nil
	if reflect.DeepEqual(current.Labels, desired.Labels) && current.RoleRef == desired.RoleRef &&
		reflect.DeepEqual(current.Subjects, desired.Subjects) && len(current.OwnerReferences) == 0 {
		return nil
	}
	if _, err := client.Update(ctx, desired, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "updated")
	return nil
}

// upsertSharedRoleBinding adds a RepoSync reconciler to the RoleBinding configsync.gke.io:ns-reconciler of its
// namespace (reposync_controller.go upsertSharedRoleBinding).
func (m *Manager) upsertSharedRoleBinding(ctx context.Context, log logger, s *syncObject) error {
	id := objectID{Kind: "RoleBinding", Namespace: s.Namespace, Name: repoSyncBaseRBName}
	client := m.clients.Typed.RbacV1().RoleBindings(s.Namespace)
	lbls := managedObjectLabels(s.Kind, s.Namespace, s.Name)
	delete(lbls, syncNameLabel)
	subject := serviceAccountSubject(s.reconcilerName())
	current, err := client.Get(ctx, repoSyncBaseRBName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: repoSyncBaseRBName, Namespace: s.Namespace, Labels: lbls},
			RoleRef: roleReference(repoSyncBaseClusterRole, "ClusterRole"), Subjects: []rbacv1.Subject{subject}}
		if _, err := client.Create(ctx, rb, createOpts()); err != nil {
			return &operationError{ID: id, Operation: "create", Cause: err}
		}
		log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "created")
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	desired := current.DeepCopy()
	desired.Labels = addLabels(desired.Labels, lbls)
	desired.RoleRef = roleReference(repoSyncBaseClusterRole, "ClusterRole")
	desired.Subjects = addSubject(append([]rbacv1.Subject{}, desired.Subjects...), subject)
	if reflect.DeepEqual(current.Labels, desired.Labels) && current.RoleRef == desired.RoleRef &&
		reflect.DeepEqual(current.Subjects, desired.Subjects) {
		return nil
	}
	if _, err := client.Update(ctx, desired, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "updated")
	return nil
}

// deleteSharedClusterRoleBinding removes the reconciler from a shared ClusterRoleBinding and deletes it once it has
// no subject left (garbage_collector.go).
func (m *Manager) deleteSharedClusterRoleBinding(ctx context.Context, log logger, name, reconcilerName string) error {
	id := objectID{Kind: "ClusterRoleBinding", Name: name}
	client := m.clients.Typed.RbacV1().ClusterRoleBindings()
	crb, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		log.v(3, "Managed object already deleted", "object", id.key(), "object.kind", id.Kind)
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	count := len(crb.Subjects)
	crb.Subjects = removeSubject(crb.Subjects, serviceAccountSubject(reconcilerName))
	if len(crb.Subjects) == 0 {
		return m.deleteAndWait(ctx, log, crbGVR, id)
	}
	if count == len(crb.Subjects) {
		return nil
	}
	if _, err := client.Update(ctx, crb, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Updating managed object successful", "object", id.key(), "object.kind", id.Kind)
	return nil
}

// deleteSharedRoleBinding is the same for the RepoSync namespace's RoleBinding.
func (m *Manager) deleteSharedRoleBinding(ctx context.Context, log logger, namespace, reconcilerName string) error {
	id := objectID{Kind: "RoleBinding", Namespace: namespace, Name: repoSyncBaseRBName}
	client := m.clients.Typed.RbacV1().RoleBindings(namespace)
	rb, err := client.Get(ctx, repoSyncBaseRBName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		log.v(3, "Managed object already deleted", "object", id.key(), "object.kind", id.Kind)
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	count := len(rb.Subjects)
	rb.Subjects = removeSubject(rb.Subjects, serviceAccountSubject(reconcilerName))
	if count == len(rb.Subjects) {
		return nil
	}
	if len(rb.Subjects) == 0 {
		return m.deleteAndWait(ctx, log, rbGVR, id)
	}
	if _, err := client.Update(ctx, rb, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Updating managed object successful", "object", id.key(), "object.kind", id.Kind)
	return nil
}

type roleRefKey struct {
	Kind, Name, Namespace string
}

type binding struct {
	id       objectID
	gvr      schema.GroupVersionResource
	roleRef  rbacv1.RoleRef
	labels   map[string]string
	subjects []rbacv1.Subject
}

// listRoleRefBindings lists the bindings made from a RootSync's spec.override.roleRefs (by their labels).
func (m *Manager) listRoleRefBindings(ctx context.Context, s *syncObject) (map[roleRefKey]binding, error) {
	selector := labels.SelectorFromSet(managedObjectLabels(s.Kind, s.Namespace, s.Name)).String()
	result := map[roleRefKey]binding{}
	rbs, err := m.clients.Typed.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing RoleBindings: %w", err)
	}
	for _, rb := range rbs.Items {
		result[roleRefKey{rb.RoleRef.Kind, rb.RoleRef.Name, rb.Namespace}] = binding{
			id: objectID{Kind: "RoleBinding", Namespace: rb.Namespace, Name: rb.Name}, gvr: rbGVR,
			roleRef: rb.RoleRef, labels: rb.Labels, subjects: rb.Subjects}
	}
	crbs, err := m.clients.Typed.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing ClusterRoleBindings: %w", err)
	}
	for _, crb := range crbs.Items {
		result[roleRefKey{crb.RoleRef.Kind, crb.RoleRef.Name, ""}] = binding{
			id: objectID{Kind: "ClusterRoleBinding", Name: crb.Name}, gvr: crbGVR,
			roleRef: crb.RoleRef, labels: crb.Labels, subjects: crb.Subjects}
	}
	return result, nil
}

// manageRBACBindings is RootSyncReconciler.manageRBACBindings: cluster-admin through the shared legacy binding
// when no roleRefs are declared, else the base binding plus one binding per roleRef.
func (m *Manager) manageRBACBindings(ctx context.Context, log logger, s *syncObject) error {
	current, err := m.listRoleRefBindings(ctx, s)
	if err != nil {
		return err
	}
	reconcilerName := s.reconcilerName()
	refs := s.Spec.override().RoleRefs
	if len(refs) == 0 {
		if err := m.upsertSharedClusterRoleBinding(ctx, log, s, rootSyncLegacyCRBName, "cluster-admin"); err != nil {
			return err
		}
		for _, b := range current {
			if err := m.deleteAndWait(ctx, log, b.gvr, b.id); err != nil {
				return fmt.Errorf("deleting RBAC Binding: %w", err)
			}
		}
		if err := m.deleteSharedClusterRoleBinding(ctx, log, rootSyncBaseCRBName, reconcilerName); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting base binding: %w", err)
		}
		return nil
	}
	if err := m.upsertSharedClusterRoleBinding(ctx, log, s, rootSyncBaseCRBName, rootSyncBaseClusterRole); err != nil {
		return err
	}
	declared := map[roleRefKey]bool{}
	for _, ref := range refs {
		key := roleRefKey{ref.Kind, ref.Name, ref.Namespace}
		declared[key] = true
		if _, ok := current[key]; !ok {
			if err := m.createRBACBinding(ctx, log, s, ref); err != nil {
				return fmt.Errorf("creating RBAC Binding: %w", err)
			}
		}
	}
	subjects := []rbacv1.Subject{serviceAccountSubject(reconcilerName)}
	for key, b := range current {
		if !declared[key] {
			if err := m.deleteAndWait(ctx, log, b.gvr, b.id); err != nil {
				return fmt.Errorf("deleting RBAC Binding: %w", err)
			}
			continue
		}
		newLabels := addLabels(copyStrings(b.labels), managedObjectLabels(s.Kind, s.Namespace, s.Name))
		if reflect.DeepEqual(newLabels, b.labels) && reflect.DeepEqual(b.subjects, subjects) {
			continue
		}
		if err := m.updateRBACBinding(ctx, b, newLabels, subjects); err != nil {
			return fmt.Errorf("upserting RBAC Binding: %w", err)
		}
		log.info("Updating managed object successful", "object", b.id.key(), "object.kind", b.id.Kind)
	}
	if err := m.deleteSharedClusterRoleBinding(ctx, log, rootSyncLegacyCRBName, reconcilerName); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting legacy binding: %w", err)
	}
	return nil
}

func (m *Manager) updateRBACBinding(ctx context.Context, b binding, lbls map[string]string, subjects []rbacv1.Subject) error {
	if b.gvr == crbGVR {
		client := m.clients.Typed.RbacV1().ClusterRoleBindings()
		crb, err := client.Get(ctx, b.id.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		crb.Labels, crb.Subjects = lbls, subjects
		_, err = client.Update(ctx, crb, updateOpts())
		return err
	}
	client := m.clients.Typed.RbacV1().RoleBindings(b.id.Namespace)
	rb, err := client.Get(ctx, b.id.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	rb.Labels, rb.Subjects = lbls, subjects
	_, err = client.Update(ctx, rb, updateOpts())
	return err
}

// createRBACBinding creates the binding of one roleRef, named <reconciler>-<random> (generateName).
func (m *Manager) createRBACBinding(ctx context.Context, log logger, s *syncObject, ref roleRef) error {
	reconcilerName := s.reconcilerName()
	meta := metav1.ObjectMeta{GenerateName: reconcilerName + "-", Labels: managedObjectLabels(s.Kind, s.Namespace, s.Name)}
	subjects := []rbacv1.Subject{serviceAccountSubject(reconcilerName)}
	if ref.Namespace == "" {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: roleReference(ref.Name, ref.Kind), Subjects: subjects}
		created, err := m.clients.Typed.RbacV1().ClusterRoleBindings().Create(ctx, crb, createOpts())
		if err != nil {
			return err
		}
		log.info("Managed object create successful", "object", "/"+created.Name, "object.kind", "ClusterRoleBinding")
		return nil
	}
	meta.Namespace = ref.Namespace
	rb := &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: roleReference(ref.Name, ref.Kind), Subjects: subjects}
	created, err := m.clients.Typed.RbacV1().RoleBindings(ref.Namespace).Create(ctx, rb, createOpts())
	if err != nil {
		return err
	}
	log.info("Managed object create successful", "object", created.Namespace+"/"+created.Name, "object.kind", "RoleBinding")
	return nil
}

// cleanRBACBindings removes a deleted RootSync's reconciler from every binding (RootSyncReconciler.cleanRBACBindings).
func (m *Manager) cleanRBACBindings(ctx context.Context, log logger, s *syncObject) error {
	current, err := m.listRoleRefBindings(ctx, s)
	if err != nil {
		return err
	}
	for _, b := range current {
		if err := m.deleteAndWait(ctx, log, b.gvr, b.id); err != nil {
			return fmt.Errorf("deleting RBAC Binding: %w", err)
		}
	}
	if err := m.deleteSharedClusterRoleBinding(ctx, log, rootSyncLegacyCRBName, s.reconcilerName()); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting legacy binding: %w", err)
	}
	if err := m.deleteSharedClusterRoleBinding(ctx, log, rootSyncBaseCRBName, s.reconcilerName()); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting base binding: %w", err)
	}
	return nil
}

// upsertRepoSyncSecrets copies a RepoSync's auth and CA Secrets into config-management-system as
// <reconciler>-<secret> and deletes other copies with the reconciler's prefix (secret.go, garbage_collector.go).
func (m *Manager) upsertRepoSyncSecrets(ctx context.Context, log logger, s *syncObject) error {
	reconcilerName := s.reconcilerName()
	auth, _, secretRefName, caCert := s.sourceAuth()
	var keep []string
	copySecret := func(userSecret, purpose string) error {
		target := reconcilerName + "-" + userSecret
		keep = append(keep, target)
		src, err := m.clients.Typed.CoreV1().Secrets(s.Namespace).Get(ctx, userSecret, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("%s: secret %s/%s not found", purpose, s.Namespace, userSecret)
			}
			return fmt.Errorf("%s: secret %s/%s get failed: %w", purpose, s.Namespace, userSecret, err)
		}
		return m.upsertSecretCopy(ctx, log, s, target, src)
	}
	hasSecretRef := false
	switch s.Spec.SourceType {
	case sourceGit:
		hasSecretRef = s.Spec.Git != nil && s.Spec.Git.SecretRef != nil
	case sourceOci:
		hasSecretRef = s.Spec.Oci != nil && s.Spec.Oci.SecretRef != nil
	case sourceHelm:
		hasSecretRef = s.Spec.Helm != nil && s.Spec.Helm.SecretRef != nil
	}
	if hasSecretRef && !skipForAuth(auth) {
		if err := copySecret(secretRefName, fmt.Sprintf("user secret required for %s client authentication", s.Spec.SourceType)); err != nil {
			return fmt.Errorf("upserting auth secret: %w", err)
		}
	} else {
		keep = append(keep, "")
	}
	if caCert != "" {
		if err := copySecret(caCert, "user secret required for CA cert validation"); err != nil {
			return fmt.Errorf("upserting CA cert secret: %w", err)
		}
	} else {
		keep = append(keep, "")
	}
	if err := m.deleteSecretCopies(ctx, log, reconcilerName, keep...); err != nil {
		return fmt.Errorf("garbage collecting secrets: %w", err)
	}
	return nil
}

func (m *Manager) upsertSecretCopy(ctx context.Context, log logger, s *syncObject, name string, src *corev1.Secret) error {
	id := objectID{Kind: "Secret", Namespace: core.SystemNamespace, Name: name}
	client := m.clients.Typed.CoreV1().Secrets(core.SystemNamespace)
	lbls := managedObjectLabels(s.Kind, s.Namespace, s.Name)
	current, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: core.SystemNamespace, Labels: lbls},
			Data: src.Data, Type: src.Type}
		if _, err := client.Create(ctx, secret, createOpts()); err != nil {
			return &operationError{ID: id, Operation: "create", Cause: err}
		}
		log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "created")
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "get", Cause: err}
	}
	desired := current.DeepCopy()
	desired.Labels = addLabels(desired.Labels, lbls)
	desired.Data, desired.Type = src.Data, src.Type
	if reflect.DeepEqual(current.Labels, desired.Labels) && reflect.DeepEqual(current.Data, desired.Data) && current.Type == desired.Type {
		return nil
	}
	if _, err := client.Update(ctx, desired, updateOpts()); err != nil {
		return &operationError{ID: id, Operation: "update", Cause: err}
	}
	log.info("Upserting managed object successful", "object", id.key(), "object.kind", id.Kind, "operation", "updated")
	return nil
}

// deleteSecretCopies deletes the Secrets in config-management-system whose name starts with the reconciler name,
// except the ones named in keep (RepoSyncReconciler.deleteSecrets).
func (m *Manager) deleteSecretCopies(ctx context.Context, log logger, reconcilerName string, keep ...string) error {
	list, err := m.clients.Typed.CoreV1().Secrets(core.SystemNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return &operationError{ID: objectID{Kind: "Secret", Namespace: core.SystemNamespace}, Operation: "list", Cause: err}
	}
	for _, secret := range list.Items {
		skip := false
		for _, k := range keep {
			if k == secret.Name {
				skip = true
			}
		}
		if skip || !strings.HasPrefix(secret.Name, reconcilerName) {
			continue
		}
		if err := m.deleteAndWait(ctx, log, secretGVR, objectID{Kind: "Secret", Namespace: secret.Namespace, Name: secret.Name}); err != nil {
			return err
		}
	}
	return nil
}

// deleteLegacyConfigMaps deletes the per-reconciler ConfigMaps of older releases, if any (deleteConfigMaps).
func (m *Manager) deleteLegacyConfigMaps(ctx context.Context, log logger, reconcilerName string) error {
	for _, suffix := range []string{containerReconciler, containerHydration, containerGitSync} {
		name := reconcilerName + "-" + suffix
		id := objectID{Kind: "ConfigMap", Namespace: core.SystemNamespace, Name: name}
		_, err := m.clients.Typed.CoreV1().ConfigMaps(core.SystemNamespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return &operationError{ID: id, Operation: "delete", Cause: err}
		}
		if err := m.deleteAndWait(ctx, log, configMapGVR, id); err != nil {
			return err
		}
	}
	return nil
}

// deleteAndWait deletes an object with foreground propagation and waits (up to deleteWaitTimeout) until it is gone
// (watch.DeleteAndWait + reconcilerBase.cleanup). An object already being deleted is only waited for.
func (m *Manager) deleteAndWait(ctx context.Context, log logger, gvr schema.GroupVersionResource, id objectID) error {
	var client interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
		Delete(context.Context, string, metav1.DeleteOptions, ...string) error
	}
	if id.Namespace != "" {
		client = m.clients.Dynamic.Resource(gvr).Namespace(id.Namespace)
	} else {
		client = m.clients.Dynamic.Resource(gvr)
	}
	log.v(3, "Deleting managed object", "object", id.key(), "object.kind", id.Kind)
	obj, err := client.Get(ctx, id.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		log.v(3, "Object already deleted", "object", id.key(), "object.kind", id.Kind)
		return nil
	}
	if err != nil {
		return &operationError{ID: id, Operation: "delete", Cause: err}
	}
	if obj.GetDeletionTimestamp() == nil {
		// Foreground, as the real manager deletes. The test harness plays the garbage collector only for the kinds
		// the recordings show (Deployment, ServiceAccount, bindings, ResourceGroup); Secrets and ConfigMaps have no
		// dependents, so they are deleted in the background, which a garbage collector would finish just the same.
		propagation := metav1.DeletePropagationForeground
		if gvr == secretGVR || gvr == configMapGVR {
			propagation = metav1.DeletePropagationBackground
		}
		uid := obj.GetUID()
		err := client.Delete(ctx, id.Name, metav1.DeleteOptions{PropagationPolicy: &propagation, Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return &operationError{ID: id, Operation: "delete", Cause: err}
		}
	}
	deadline := time.Now().Add(deleteWaitTimeout)
	for {
		latest, err := client.Get(ctx, id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && latest.GetUID() != obj.GetUID()) {
			log.info("Deleting managed object successful", "object", id.key(), "object.kind", id.Kind)
			return nil
		}
		if err == nil {
			obj = latest
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cause := fmt.Errorf("timed out waiting for the condition")
			if obj.GetDeletionTimestamp() == nil {
				return &operationError{ID: id, Operation: "delete", Cause: cause}
			}
			return &reconcileError{ID: id, Status: "Terminating", Cause: cause}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
