package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"configsync.test/emulator/internal/core"
)

type syncKey struct {
	Namespace string
	Name      string
}

// Manager is the reconciler-manager: one work queue (and one worker, as MaxConcurrentReconciles: 1) per sync kind.
type Manager struct {
	clients                 *core.Clients
	clusterName             string
	reconcilerPollingPeriod time.Duration
	hydrationPollingPeriod  time.Duration
	watchFleetMembership    bool

	mu         sync.Mutex
	membership *membership

	queues  map[string]workqueue.TypedRateLimitingInterface[syncKey]
	stores  map[string]cache.Store // RootSync and RepoSync informer stores, for event mapping
	kindLog map[string]logger
}

func (m *Manager) currentMembership() *membership {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.membership == nil {
		return nil
	}
	copied := *m.membership
	return &copied
}

func (m *Manager) setMembership(ms *membership) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.membership = ms
}

func (m *Manager) enqueue(kind, namespace, name string) {
	m.queues[kind].Add(syncKey{Namespace: namespace, Name: name})
}

func (m *Manager) runWorker(ctx context.Context, kind string) {
	queue := m.queues[kind]
	for {
		key, shutdown := queue.Get()
		if shutdown {
			return
		}
		err := m.reconcile(ctx, kind, key)
		if err != nil {
			m.kindLog[kind].error(err, "Reconciler error", kind, map[string]string{"name": key.Name, "namespace": key.Namespace})
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

func (m *Manager) syncLogger(kind string, key syncKey, reconcilerName string) logger {
	return m.kindLog[kind].with("sync.kind", kind, "sync", key.Namespace+"/"+key.Name,
		"reconciler", core.SystemNamespace+"/"+reconcilerName)
}

// reconcile is RootSyncReconciler.Reconcile / RepoSyncReconciler.Reconcile.
func (m *Manager) reconcile(ctx context.Context, kind string, key syncKey) error {
	reconcilerName := core.ReconcilerName(kind, key.Namespace, key.Name)
	log := m.syncLogger(kind, key, reconcilerName)
	syncClient := m.clients.Dynamic.Resource(core.SyncGVR(kind)).Namespace(key.Namespace)
	obj, err := syncClient.Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Already gone (e.g. it never got our finalizer): clean up anyway.
		stub := &syncObject{Kind: kind, Name: key.Name, Namespace: key.Namespace}
		if err := m.deleteManagedObjects(ctx, log, stub); err != nil {
			log.error(err, "Failed to delete managed objects")
			return fmt.Errorf("failed to delete managed objects: %w", err)
		}
		return nil
	}
	if err != nil {
		return apiServerError(err, fmt.Sprintf("failed to get %s", kind), apierrors.IsForbidden(err))
	}
	s, err := parseSync(kind, obj)
	if err != nil {
		log.error(err, "Failed to decode sync object")
		return nil
	}

	if !s.Deleting {
		if verr := m.validate(ctx, s); verr != nil {
			if kind == core.RootSyncKind {
				log.error(verr, "RootSync spec invalid")
			} else {
				log.error(verr, "Invalid RepoSync Spec")
			}
			_, updateErr := m.updateSyncStatus(ctx, log, s, func(c *conditions) { c.setStalled("Validation", verr) })
			return updateErr
		}
	} else {
		log.v(3, "Sync deletion timestamp detected")
	}

	webhookEnabled, err := m.isWebhookEnabled(ctx)
	if err != nil {
		return fmt.Errorf("failed to get the admission webhook configuration: %w", err)
	}
	return m.setupOrTeardown(ctx, log, s, webhookEnabled)
}

func (m *Manager) isWebhookEnabled(ctx context.Context) (bool, error) {
	_, err := m.clients.Typed.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhookConfigurationName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// validate is validateRootSync / validateRepoSync: metadata, reconciler name, spec, then the Secrets it needs.
func (m *Manager) validate(ctx context.Context, s *syncObject) error {
	if err := validateMetadata(s); err != nil {
		return err
	}
	if err := validateSpec(s.Kind, &s.Spec); err != nil {
		return err
	}
	_, _, secretRefName, caCert := s.sourceAuth()
	if err := m.validateCACertSecret(ctx, s.Namespace, caCert); err != nil {
		return err
	}
	switch s.Spec.SourceType {
	case sourceGit:
		auth := s.Spec.Git.Auth
		if skipForAuth(auth) {
			return nil
		}
		if s.Kind == core.RepoSyncKind {
			copied := s.reconcilerName() + "-" + secretRefName
			if errs := validationIsDNS1123Subdomain(copied); errs != "" {
				return errInvalidSecretName(copied, errs)
			}
		}
		secret, err := m.clients.Typed.CoreV1().Secrets(s.Namespace).Get(ctx, secretRefName, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return errMissingSecret(secretRefName)
			}
			return apiServerError(err, fmt.Sprintf("failed to get secret %q", secretRefName), apierrors.IsForbidden(err))
		}
		return validateSecretData(auth, secret.Name, secret.Data)
	case sourceHelm:
		for _, vf := range s.Spec.Helm.ValuesFileRefs {
			cm, err := m.clients.Typed.CoreV1().ConfigMaps(s.Namespace).Get(ctx, vf.Name, metav1.GetOptions{})
			if err != nil {
				return invalidSync("%ss must reference valid ConfigMaps in spec.helm.valuesFileRefs: %s", s.Kind, err.Error())
			}
			if cm.Immutable == nil || !*cm.Immutable {
				return invalidSync("%ss must reference valid ConfigMaps in spec.helm.valuesFileRefs: ConfigMap %q in namespace %q is not immutable", s.Kind, vf.Name, s.Namespace)
			}
			dataKey := vf.DataKey
			if dataKey == "" {
				dataKey = "values.yaml"
			}
			if _, ok := cm.Data[dataKey]; !ok {
				return invalidSync("%ss must reference valid ConfigMaps in spec.helm.valuesFileRefs: ConfigMap %q in namespace %q does not have data key %q", s.Kind, vf.Name, s.Namespace, dataKey)
			}
		}
	}
	return nil
}

// validateCACertSecret checks that caCertSecretRef names a Secret with a "cert" key in the sync's namespace.
func (m *Manager) validateCACertSecret(ctx context.Context, namespace, name string) error {
	if name == "" {
		return nil
	}
	secret, err := m.clients.Typed.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return errMissingSecret(name)
		}
		return apiServerError(err, fmt.Sprintf("failed to get secret %q", name), apierrors.IsForbidden(err))
	}
	if _, ok := secret.Data[caCertSecretKey]; !ok {
		return errMissingKeyInCACertSecret(caCertSecretKey, name)
	}
	return nil
}

// setupOrTeardown: add our finalizer and set up, or (being deleted) wait for the reconciler's finalizer, tear down
// and remove our finalizer (reconciler_base.go).
func (m *Manager) setupOrTeardown(ctx context.Context, log logger, s *syncObject, webhookEnabled bool) error {
	syncClient := m.clients.Dynamic.Resource(core.SyncGVR(s.Kind)).Namespace(s.Namespace)
	if !s.Deleting {
		if !hasFinalizer(s.Finalizers, reconcilerManagerFinalizer) {
			obj := s.Obj.DeepCopy()
			obj.SetFinalizers(append(obj.GetFinalizers(), reconcilerManagerFinalizer))
			updated, err := syncClient.Update(ctx, obj, updateOpts())
			if err != nil {
				return apiServerError(err, fmt.Sprintf("failed to update %s to add finalizer", s.Kind), apierrors.IsForbidden(err))
			}
			log.info("Adding finalizer successful", "object", s.ref(), "object.kind", s.Kind)
			if s, err = parseSync(s.Kind, updated); err != nil {
				return err
			}
		}
		if err := m.setup(ctx, log, s, webhookEnabled); err != nil {
			if isNoRetry(err) {
				log.error(err, "Setup failed (waiting for resource status to change)")
				return nil
			}
			return fmt.Errorf("setup failed: %w", err)
		}
		return nil
	}

	if hasFinalizer(s.Finalizers, reconcilerFinalizer) {
		removed, err := m.handleReconcilerFinalizer(ctx, log, s)
		if err != nil {
			return err
		}
		if !removed {
			log.info("Waiting for Reconciler Finalizer to finish")
			return nil
		}
	}
	if !hasFinalizer(s.Finalizers, reconcilerManagerFinalizer) {
		return nil
	}
	if err := m.teardown(ctx, log, s); err != nil {
		if isNoRetry(err) {
			log.error(err, "Teardown failed (waiting for resource status to change)")
			return nil
		}
		return fmt.Errorf("teardown failed: %w", err)
	}
	obj := s.Obj.DeepCopy()
	var kept []string
	for _, f := range obj.GetFinalizers() {
		if f != reconcilerManagerFinalizer {
			kept = append(kept, f)
		}
	}
	obj.SetFinalizers(kept)
	if _, err := syncClient.Update(ctx, obj, updateOpts()); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return apiServerError(err, fmt.Sprintf("failed to update %s to remove the reconciler-manager finalizer", s.Kind), apierrors.IsForbidden(err))
	}
	log.info("Removing finalizer succeeded", "object", s.ref(), "object.kind", s.Kind)
	return nil
}

// handleReconcilerFinalizer: a RootSync waits for its reconciler to remove configsync.gke.io/reconciler; a RepoSync
// whose namespace is terminating has it removed by the manager (reconciler_finalizer_handler.go).
func (m *Manager) handleReconcilerFinalizer(ctx context.Context, log logger, s *syncObject) (bool, error) {
	if s.Kind == core.RootSyncKind {
		return false, nil
	}
	ns, err := m.clients.Typed.CoreV1().Namespaces().Get(ctx, s.Namespace, metav1.GetOptions{})
	if err != nil {
		log.error(err, "Get sync object Namespace failed")
		return false, err
	}
	if ns.Status.Phase != "Terminating" {
		return false, nil
	}
	obj := s.Obj.DeepCopy()
	var kept []string
	for _, f := range obj.GetFinalizers() {
		if f != reconcilerFinalizer {
			kept = append(kept, f)
		}
	}
	obj.SetFinalizers(kept)
	updated, err := m.clients.Dynamic.Resource(core.SyncGVR(s.Kind)).Namespace(s.Namespace).Update(ctx, obj, updateOpts())
	if err != nil {
		return false, apiServerError(err, "failed to update RepoSync to remove the reconciler finalizer", apierrors.IsForbidden(err))
	}
	log.info("Removing reconciler finalizer successful", "object", s.ref(), "object.kind", s.Kind)
	s.Obj, s.Finalizers = updated, updated.GetFinalizers()
	return true, nil
}

// setup: ApplySet metadata, managed objects, then the status.
func (m *Manager) setup(ctx context.Context, log logger, s *syncObject, webhookEnabled bool) error {
	err := m.patchSyncMetadata(ctx, log, s)
	if err == nil {
		err = m.upsertManagedObjects(ctx, log, s, webhookEnabled)
	}
	edit, retErr := m.handleReconcileError(log, err, s.Kind, "Setup")
	updated, updateErr := m.updateSyncStatus(ctx, log, s, edit)
	switch {
	case updateErr != nil && retErr == nil:
		return updateErr
	case retErr != nil:
		if updateErr != nil {
			log.error(updateErr, "Sync status update failed")
		}
		return retErr
	default:
		if updated {
			log.info("Setup successful")
		}
		return nil
	}
}

func (m *Manager) teardown(ctx context.Context, log logger, s *syncObject) error {
	err := m.deleteManagedObjects(ctx, log, s)
	edit, retErr := m.handleReconcileError(log, err, s.Kind, "Teardown")
	updated, updateErr := m.updateSyncStatus(ctx, log, s, edit)
	switch {
	case updateErr != nil && retErr == nil:
		return updateErr
	case retErr != nil:
		if updateErr != nil {
			log.error(updateErr, "Sync status update failed")
		}
		return retErr
	default:
		if updated {
			log.info("Teardown successful")
		}
		return nil
	}
}

// handleReconcileError turns a setup/teardown error into the Reconciling/Stalled conditions and tells whether to
// retry at once (an error) or wait for the next event (a noRetryError).
func (m *Manager) handleReconcileError(log logger, err error, kind, stage string) (statusEdit, error) {
	if err == nil {
		return func(c *conditions) {
			c.clear("Reconciling")
			c.clear("Stalled")
		}, nil
	}
	var opErr *operationError
	var recErr *reconcileError
	switch {
	case errors.As(err, &opErr):
		log.error(err, stage+" failed", "object", opErr.ID.key(), "object.kind", opErr.ID.Kind, "operation", opErr.Operation)
		return func(c *conditions) {
			c.setReconciling(stage, stage+" stalled")
			c.setStalled(opErr.ID.Kind, err)
		}, fmt.Errorf("%s: %w", stage, err)
	case errors.As(err, &recErr):
		log.error(err, stage+" waiting for event", "object", recErr.ID.key(), "object.kind", recErr.ID.Kind, "object.status", string(recErr.Status))
		if recErr.Status == kstatus.InProgressStatus || recErr.Status == kstatus.TerminatingStatus {
			return func(c *conditions) {
				c.setReconciling(recErr.ID.Kind, err.Error())
				c.clear("Stalled")
			}, &noRetryError{Cause: err}
		}
		return func(c *conditions) {
			c.setReconciling(stage, stage+" stalled")
			c.setStalled(recErr.ID.Kind, err)
		}, fmt.Errorf("%s: %w", stage, err)
	default:
		log.error(err, stage+" failed")
		return func(c *conditions) {
			c.setReconciling(stage, stage+" stalled")
			c.setStalled("Error", err)
		}, fmt.Errorf("%s: %w", stage, err)
	}
}

// updateSyncStatus rewrites the manager's part of the status (conditions Reconciling/Stalled, reconciler,
// observedGeneration) with a read-modify-write of the status subresource, retried on conflicts; it writes
// nothing when nothing changed.
func (m *Manager) updateSyncStatus(ctx context.Context, log logger, s *syncObject, edit statusEdit) (bool, error) {
	syncClient := m.clients.Dynamic.Resource(core.SyncGVR(s.Kind)).Namespace(s.Namespace)
	reconcilerName := s.reconcilerName()
	for attempt := 0; ; attempt++ {
		obj, err := syncClient.Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("Sync status update failed: %w", err) //nolint:staticcheck // the real message
		}
		old, _ := obj.Object["status"].(map[string]interface{})
		newStatus, changed := applyStatusEdit(old, reconcilerName, obj.GetGeneration(), edit, nowString)
		if !changed {
			s.Obj = obj
			log.v(5, "Sync status update skipped: no change")
			return false, nil
		}
		obj.Object["status"] = newStatus
		updated, err := syncClient.UpdateStatus(ctx, obj, updateOpts())
		if apierrors.IsConflict(err) && attempt < 10 {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("Sync status update failed: %w", err) //nolint:staticcheck // the real message
		}
		s.Obj = updated
		s.Finalizers = updated.GetFinalizers()
		log.info("Sync status update successful")
		return true, nil
	}
}

// patchSyncMetadata sets the ApplySet id label and tooling annotation with a merge patch (reconciler_base.go).
func (m *Manager) patchSyncMetadata(ctx context.Context, log logger, s *syncObject) error {
	id := applySetID(s.Kind, s.Name, s.Namespace)
	tooling := applySetTooling()
	current := s.Labels[applySetIDLabel]
	currentTooling := s.Annotations[applySetToolingAnno]
	if current == id && currentTooling == tooling {
		return nil
	}
	if currentTooling != "" && currentTooling != tooling {
		idx := -1
		for i := len(currentTooling) - 1; i >= 0; i-- {
			if currentTooling[i] == '/' {
				idx = i
				break
			}
		}
		if idx < 0 {
			return fmt.Errorf("invalid applyset tooling value: expected NAME/VERSION: %s: remove the %s annotation to allow adoption", currentTooling, applySetToolingAnno)
		}
		if currentTooling[:idx] != applySetToolingName {
			return fmt.Errorf("%s applyset owned by %s: remove the %s annotation to allow adoption", s.Kind, currentTooling, applySetToolingAnno)
		}
	}
	patch := fmt.Sprintf(`{"metadata": {"labels": {%q: %q}, "annotations": {%q: %q}}}`, applySetIDLabel, id, applySetToolingAnno, tooling)
	updated, err := m.clients.Dynamic.Resource(core.SyncGVR(s.Kind)).Namespace(s.Namespace).Patch(ctx, s.Name, types.MergePatchType,
		[]byte(patch), metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return fmt.Errorf("Sync metadata update failed: %w", err) //nolint:staticcheck // the real message
	}
	log.v(3, "Patching object metadata successful", "object", s.ref(), "object.kind", s.Kind)
	s.Obj, s.Labels, s.Annotations = updated, updated.GetLabels(), updated.GetAnnotations()
	return nil
}

// upsertManagedObjects creates or updates the KSA, RBAC, (RepoSync) Secret copies and the reconciler Deployment,
// then reports the Deployment's kstatus as an error until it is Current.
func (m *Manager) upsertManagedObjects(ctx context.Context, log logger, s *syncObject, webhookEnabled bool) error {
	log.v(3, "Reconciling managed objects")
	auth, email, _, _ := s.sourceAuth()
	switch s.Spec.SourceType {
	case sourceGit, sourceOci, sourceHelm:
	default:
		return fmt.Errorf("invalid source type: %s", s.Spec.SourceType)
	}
	if s.Kind == core.RepoSyncKind {
		if err := m.upsertRepoSyncSecrets(ctx, log, s); err != nil {
			return err
		}
	}
	if err := m.upsertServiceAccount(ctx, log, s, auth, email); err != nil {
		return fmt.Errorf("upserting service account: %w", err)
	}
	if s.Kind == core.RootSyncKind {
		if err := m.manageRBACBindings(ctx, log, s); err != nil {
			return fmt.Errorf("configuring RBAC bindings: %w", err)
		}
	} else {
		if err := m.upsertSharedRoleBinding(ctx, log, s); err != nil {
			return fmt.Errorf("upserting role binding: %w", err)
		}
		if err := m.upsertSharedClusterRoleBinding(ctx, log, s, repoSyncClusterScope, repoSyncClusterScope); err != nil {
			return fmt.Errorf("upserting role binding: %w", err)
		}
	}

	tmpl, err := loadTemplate()
	if err != nil {
		return fmt.Errorf("upserting reconciler deployment: failed to parse reconciler Deployment manifest from ConfigMap: %w", err)
	}
	declared, err := buildDeployment(tmpl, deploymentInput{
		Sync:                    s,
		ClusterName:             m.clusterName,
		ReconcilerPollingPeriod: m.reconcilerPollingPeriod,
		HydrationPollingPeriod:  m.hydrationPollingPeriod,
		Membership:              m.currentMembership(),
		WebhookEnabled:          webhookEnabled,
	})
	if err != nil {
		return fmt.Errorf("upserting reconciler deployment: %w", err)
	}
	deployObj, err := m.applyDeployment(ctx, log, declared)
	if err != nil {
		return fmt.Errorf("upserting reconciler deployment: %w", err)
	}
	id := objectID{Kind: "Deployment", Namespace: core.SystemNamespace, Name: s.reconcilerName()}
	result, err := kstatus.Compute(deployObj)
	if err != nil {
		return fmt.Errorf("computing reconciler deployment status: %w", err)
	}
	log.v(3, "Reconciler status", "object", id.key(), "object.kind", id.Kind, "resourceVersion", deployObj.GetResourceVersion(),
		"status", result.Status, "message", result.Message)
	if result.Status != kstatus.CurrentStatus {
		return &reconcileError{ID: id, Status: result.Status, Cause: errors.New(result.Message)}
	}
	return nil
}

// applyDeployment server-side applies the declared Deployment as field manager reconciler-manager (force). An
// existing Deployment is first applied as a dry run: when that changes neither labels nor spec, nothing is written,
// so the generation moves only when the template really changes.
func (m *Manager) applyDeployment(ctx context.Context, log logger, declared *appsv1.Deployment) (*unstructured.Unstructured, error) {
	id := objectID{Kind: "Deployment", Namespace: declared.Namespace, Name: declared.Name}
	client := m.clients.Dynamic.Resource(deploymentGVR).Namespace(declared.Namespace)
	data, err := json.Marshal(declared)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal declared deployment object to byte array: %w", err)
	}
	force := true
	applyOpts := metav1.PatchOptions{FieldManager: managerName, Force: &force}
	current, err := client.Get(ctx, declared.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		applied, err := client.Patch(ctx, declared.Name, types.ApplyPatchType, data, applyOpts)
		if err != nil {
			return nil, &operationError{ID: id, Operation: "patch", Cause: err}
		}
		log.info("Applying managed object successful", "object", id.key(), "object.kind", id.Kind)
		log.info("Managed object upsert successful", "object", id.key(), "object.kind", id.Kind, "operation", "created")
		return applied, nil
	}
	if err != nil {
		return nil, &operationError{ID: id, Operation: "get", Cause: err}
	}
	dryRunOpts := applyOpts
	dryRunOpts.DryRun = []string{metav1.DryRunAll}
	dry, err := client.Patch(ctx, declared.Name, types.ApplyPatchType, data, dryRunOpts)
	if err == nil && sameLabelsAndSpec(current, dry) {
		log.v(3, "Skipping applying managed object, no diff", "object", id.key(), "object.kind", id.Kind)
		return current, nil
	}
	applied, err := client.Patch(ctx, declared.Name, types.ApplyPatchType, data, applyOpts)
	if err != nil {
		if !apierrors.IsInvalid(err) {
			return nil, &operationError{ID: id, Operation: "patch", Cause: err}
		}
		// Invalid (e.g. an immutable selector changed): delete and re-create.
		log.error(err, "Managed object update failed, deleting and re-creating", "object", id.key(), "object.kind", id.Kind)
		if err := client.Delete(ctx, declared.Name, metav1.DeleteOptions{}); err != nil {
			return nil, &operationError{ID: id, Operation: "delete", Cause: err}
		}
		applied, err = client.Patch(ctx, declared.Name, types.ApplyPatchType, data, applyOpts)
		if err != nil {
			return nil, &operationError{ID: id, Operation: "patch", Cause: err}
		}
	}
	if applied.GetGeneration() == current.GetGeneration() && applied.GetUID() == current.GetUID() {
		return applied, nil
	}
	log.info("Applying managed object successful", "object", id.key(), "object.kind", id.Kind)
	log.info("Managed object upsert successful", "object", id.key(), "object.kind", id.Kind, "operation", "updated")
	return applied, nil
}

func sameLabelsAndSpec(a, b *unstructured.Unstructured) bool {
	return reflect.DeepEqual(a.GetLabels(), b.GetLabels()) && reflect.DeepEqual(a.Object["spec"], b.Object["spec"])
}

// deleteManagedObjects deletes everything the manager made for a sync (deleteManagedObjects of both controllers).
func (m *Manager) deleteManagedObjects(ctx context.Context, log logger, s *syncObject) error {
	log.info("Deleting managed objects")
	reconcilerName := s.reconcilerName()
	if err := m.deleteAndWait(ctx, log, deploymentGVR, objectID{Kind: "Deployment", Namespace: core.SystemNamespace, Name: reconcilerName}); err != nil {
		return fmt.Errorf("deleting reconciler deployment: %w", err)
	}
	if err := m.deleteLegacyConfigMaps(ctx, log, reconcilerName); err != nil {
		return fmt.Errorf("deleting config maps: %w", err)
	}
	if s.Kind == core.RootSyncKind {
		if err := m.cleanRBACBindings(ctx, log, s); err != nil {
			return fmt.Errorf("deleting RBAC bindings: %w", err)
		}
	} else {
		if err := m.deleteSecretCopies(ctx, log, reconcilerName); err != nil {
			return fmt.Errorf("deleting secrets: %w", err)
		}
		if err := m.deleteSharedRoleBinding(ctx, log, s.Namespace, reconcilerName); err != nil {
			return fmt.Errorf("deleting role binding: %w", err)
		}
		if err := m.deleteSharedClusterRoleBinding(ctx, log, repoSyncClusterScope, reconcilerName); err != nil {
			return fmt.Errorf("deleting cluster role binding: %w", err)
		}
	}
	if err := m.deleteAndWait(ctx, log, serviceAccountGVR, objectID{Kind: "ServiceAccount", Namespace: core.SystemNamespace, Name: reconcilerName}); err != nil {
		return fmt.Errorf("deleting service account: %w", err)
	}
	if err := m.deleteAndWait(ctx, log, core.ResourceGroupGVR, objectID{Kind: "ResourceGroup", Namespace: s.Namespace, Name: s.Name}); err != nil {
		return fmt.Errorf("deleting resource group: %w", err)
	}
	return nil
}
