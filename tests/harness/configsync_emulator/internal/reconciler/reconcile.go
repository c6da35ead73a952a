package reconciler

// One sync attempt and the event loop around it (pkg/parse/run.go, state.go, cache.go, updater.go,
// event_handler.go, events/publisher.go): fetch (oci-sync's volume, the image-to-sync annotation, source status),
// read (rendering status "Rendering skipped", the file list), parse (objects, source status), update (the applier,
// then the sync status and the Syncing condition). A sync event comes every polling period; after a failure a retry
// event comes after 1s, 1s, 2s, 4s ... (12 retries); a full re-sync happens every full-sync period.

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

const (
	triggerFullSync = "resync"
	triggerSync     = "reimport"
	triggerRetry    = "retry"

	renderingSkipped  = "Rendering skipped"
	renderingRequired = "Rendering required but is currently disabled"
)

type sourceState struct {
	spec     *sourceSpec
	commit   string
	syncPath string
	files    []string
}

type parseResult struct {
	objsToApply []fileObject
	objsSkipped []fileObject
	errs        MultiError
	lastUpdate  time.Time
}

func (p *parseResult) isUpdateRequired() bool {
	return p == nil || p.lastUpdate.IsZero() || p.errs != nil || len(p.objsSkipped) > 0
}

type cacheForCommit struct {
	parse           *parseResult
	declaredUpdated bool
	applied         bool
	needToRetry     bool
}

type reconciler struct {
	opts    *options
	sync    *syncClient
	applier *applier
	parse   parseOptions

	mu           sync.Mutex
	status       *reconcilerStatus
	source       *sourceState
	cache        cacheForCommit
	checkpoint   string
	lastFullSync time.Time

	// The sync error cache (parse.SyncErrorCache): conflicts, validation and apply errors.
	conflictErrs   MultiError
	validationErrs MultiError
	applyErrs      MultiError
	// declaredNamespaces are the Namespaces of the last declared set (declared.Resources, for the safeguard).
	declaredNamespaces []string
	stop               <-chan struct{}
}

type reconcileResult struct{ sourceChanged, success bool }

func nowMeta() metav1.Time { return metav1.Time{Time: time.Now()} }

func (r *reconciler) syncErrors() MultiError {
	var errs MultiError
	errs = append(errs, r.conflictErrs...)
	errs = append(errs, r.validationErrs...)
	errs = append(errs, r.applyErrs...)
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (r *reconciler) recordFailure(errs MultiError) {
	klog.Errorf("Reconcile attempt failed: %v", displayPaths.display(errs.Error()))
	r.checkpoint = ""
	r.cache.needToRetry = true
}

func (r *reconciler) recordSyncSuccess() {
	logf("Sync successful")
	r.checkpoint = r.source.syncPath
	r.cache.needToRetry = false
}

func (r *reconciler) specFor() *sourceSpec {
	return &sourceSpec{Image: r.opts.sourceRepo, Dir: r.opts.syncDir}
}

// reconcileOnce is reconciler.Reconcile.
func (r *reconciler) reconcileOnce(ctx context.Context, trigger string) reconcileResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	result := reconcileResult{}
	if r.status == nil {
		st, err := r.sync.getReconcilerStatus(ctx)
		if err != nil {
			r.recordFailure(MultiError{err})
			return result
		}
		if st == nil {
			r.recordFailure(MultiError{internalErrorf("%s %s/%s not found", r.sync.kind, r.sync.namespace, r.sync.name)})
			return result
		}
		r.status = st
	}
	start := time.Now()
	if trigger == triggerSync && (r.lastFullSync.IsZero() || start.After(r.lastFullSync.Add(r.opts.fullSyncPeriod))) {
		trigger = triggerFullSync
	}
	logf("Starting sync attempt (trigger: %s)", trigger)
	if trigger == triggerFullSync {
		needToRetry := r.cache.needToRetry
		r.cache = cacheForCommit{needToRetry: needToRetry}
		r.lastFullSync = start
	}

	newSource, syncPath, errs := r.fetch(ctx)
	if errs != nil {
		r.recordFailure(errs)
		return result
	}
	if r.source == nil {
		r.source = &sourceState{}
	}
	oldSyncPath := r.source.syncPath
	if errs := r.read(ctx, newSource, syncPath); errs != nil {
		r.recordFailure(errs)
		return result
	}
	if r.source.syncPath != oldSyncPath {
		result.sourceChanged = true
	}
	if trigger == triggerSync && oldSyncPath == r.source.syncPath {
		return result
	}
	parseErrs := r.parseStage(ctx)
	if hasBlockingErrors(parseErrs) {
		r.recordFailure(parseErrs)
		return result
	}
	updateErrs := r.update(ctx)
	if parseErrs != nil || updateErrs != nil {
		r.recordFailure(append(append(MultiError{}, parseErrs...), updateErrs...))
		return result
	}
	r.recordSyncSuccess()
	result.success = true
	return result
}

// fetch reads the commit oci-sync fetched, annotates the sync object with the image being synced and updates the
// source status when the commit changed or there are errors.
func (r *reconciler) fetch(ctx context.Context) (*stageState, string, MultiError) {
	commit, syncPath, srcErr := sourceCommitAndSyncPathWithRetry(r.stop, r.opts.sourceDir, r.opts.syncDirOS, r.opts.reconcilerName)
	var errs MultiError
	if srcErr != nil {
		errs = MultiError{srcErr}
	} else if err := r.sync.setImageToSyncAnnotation(ctx, commit); err != nil {
		errs = MultiError{err}
	}
	n := &stageState{spec: r.specFor(), commit: commit, errs: errs}
	if errs != nil || r.status.source == nil || commit != r.status.source.commit {
		n.lastUpdate = nowMeta()
		if r.status.needToSetSourceStatus(n) {
			if err := r.sync.setSourceStatus(ctx, n); err != nil {
				return n, syncPath, append(errs, err)
			}
			r.status.source = n
		}
		if errs != nil {
			return n, syncPath, errs
		}
	}
	return n, syncPath, nil
}

var kustomizationFiles = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

// read is reconciler.read + readFromSource: the rendering status ("Rendering skipped") and the file list of a new
// sync path.
func (r *reconciler) read(ctx context.Context, src *stageState, syncPath string) MultiError {
	srcState := &sourceState{spec: src.spec, commit: src.commit, syncPath: syncPath}
	render := &stageState{spec: src.spec, commit: src.commit, message: renderingSkipped}
	newSource := &stageState{spec: src.spec, commit: src.commit}
	if srcState.syncPath != r.source.syncPath {
		logf("Reconciler listing source files from new sync path: %s", displayPaths.display(syncPath))
		newSource.errs = r.readConfigFiles(srcState)
		for _, f := range srcState.files {
			if kustomizationFiles[filepath.Base(f)] {
				render.message = renderingRequired
				render.requires = true
				render.errs = MultiError{newBuilder(codeTransient).wrap(fmt.Errorf("sync source contains dry configs and hydration-controller is not running")).build()}
				break
			}
		}
		if render.errs == nil {
			if newSource.errs != nil {
				r.cache = cacheForCommit{}
			} else {
				r.source = srcState
				r.cache = cacheForCommit{}
			}
		}
	}
	if render.requires {
		r.setRequiresRenderingAnnotation(ctx)
	}
	render.lastUpdate = nowMeta()
	old := r.status.rendering
	if old == nil {
		old = &stageState{}
	}
	if err := r.sync.setRenderingStatus(ctx, old, render); err != nil {
		return append(append(MultiError{}, render.errs...), err)
	}
	r.status.rendering = render
	if render.errs != nil {
		return render.errs
	}
	if newSource.errs != nil {
		newSource.lastUpdate = nowMeta()
		if r.status.needToSetSourceStatus(newSource) {
			if err := r.sync.setSourceStatus(ctx, newSource); err != nil {
				return append(append(MultiError{}, newSource.errs...), err)
			}
			r.status.source = newSource
		}
		return newSource.errs
	}
	return nil
}

func (r *reconciler) setRequiresRenderingAnnotation(ctx context.Context) {
	obj, err := r.sync.get(ctx)
	if err != nil || obj.GetAnnotations()[configSyncPrefix+"requires-rendering"] == "true" {
		return
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"%srequires-rendering":"true"}}}`, configSyncPrefix)
	_, _ = r.sync.resource().Patch(ctx, r.sync.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: fieldManager})
}

// readConfigFiles is Files.readConfigFiles.
func (r *reconciler) readConfigFiles(s *sourceState) MultiError {
	files, err := listFiles(s.syncPath)
	if err != nil {
		return MultiError{pathWrapError(fmt.Errorf("listing files in the configs directory: %w", err), filepath.ToSlash(s.syncPath))}
	}
	newCommit, err := computeCommit(r.opts.sourceDir)
	if err != nil {
		return MultiError{newBuilder(codeTransient).wrap(err).build()}
	}
	if newCommit != s.commit {
		return MultiError{newBuilder(codeTransient).wrap(fmt.Errorf("source commit changed while listing files, was %s, now %s. It will be retried in the next sync", s.commit, newCommit)).build()}
	}
	s.files = files
	return nil
}

// parseStage is reconciler.parse: parse when needed, then the source status.
func (r *reconciler) parseStage(ctx context.Context) MultiError {
	var parseErrs MultiError
	if r.cache.parse.isUpdateRequired() {
		logf("Parsing files from source path: %s", displayPaths.display(r.source.syncPath))
		objs, errs := parseSource(ctx, r.source.syncPath, r.source.files, r.parse)
		parseErrs = errs
		if !hasBlockingErrors(errs) {
			// addAnnotationsAndLabels
			csm := csMetadata{
				applySetID:  r.applier.applySetID,
				gitContext:  gitContext(r.opts.sourceRepo, r.opts.sourceBranch, r.opts.sourceRev),
				manager:     resourceManager(r.opts.scope, r.opts.syncName),
				sourceHash:  r.source.commit,
				inventoryID: r.applier.inv.id(),
			}
			for _, o := range objs {
				csm.set(o.Unstructured)
				removeAnnotation(o.Unstructured, annDeclaredFields)
			}
		} else {
			objs = nil
		}
		pr := &parseResult{errs: parseErrs, lastUpdate: time.Now()}
		for _, o := range objs {
			if o.GetAnnotations()[annUnknownScope] == "true" {
				pr.objsSkipped = append(pr.objsSkipped, o)
			} else {
				pr.objsToApply = append(pr.objsToApply, o)
			}
		}
		r.cache.parse = pr
	}
	n := &stageState{spec: r.source.spec, commit: r.source.commit, errs: parseErrs, lastUpdate: nowMeta()}
	if r.status.needToSetSourceStatus(n) {
		if err := r.sync.setSourceStatus(ctx, n); err != nil {
			return append(append(MultiError{}, parseErrs...), err)
		}
		r.status.source = n
	}
	return parseErrs
}

// update is reconciler.update + Updater.update: declare, apply, then the sync status.
func (r *reconciler) update(ctx context.Context) MultiError {
	asyncCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var statusMu sync.Mutex
	go func() {
		defer close(done)
		t := time.NewTimer(r.opts.statusUpdatePeriod)
		defer t.Stop()
		for {
			select {
			case <-asyncCtx.Done():
				return
			case <-t.C:
				statusMu.Lock()
				n := &stageState{spec: r.status.source.spec, syncing: true, commit: r.source.commit, errs: r.syncErrors(), lastUpdate: nowMeta()}
				r.setSyncStatus(ctx, n)
				statusMu.Unlock()
				t.Reset(r.opts.statusUpdatePeriod)
			}
		}
	}()
	r.runUpdater(ctx, &statusMu)
	cancel()
	<-done

	syncErrs := r.syncErrors()
	n := &stageState{spec: r.status.source.spec, syncing: false, commit: r.source.commit, errs: syncErrs, lastUpdate: nowMeta()}
	if err := r.setSyncStatus(ctx, n); err != nil {
		return append(append(MultiError{}, syncErrs...), err)
	}
	return syncErrs
}

func (r *reconciler) setSyncStatus(ctx context.Context, n *stageState) *Error {
	if !r.status.needToSetSyncStatus(n) {
		return nil
	}
	if err := r.sync.setSyncStatus(ctx, n); err != nil {
		return err
	}
	r.status.sync = n
	return nil
}

func (r *reconciler) runUpdater(ctx context.Context, statusMu *sync.Mutex) {
	pr := r.cache.parse
	if !r.cache.declaredUpdated {
		var namespaces []string
		for _, o := range pr.objsToApply {
			if gkOf(o.Unstructured) == gkNamespace {
				namespaces = append(namespaces, o.GetName())
			}
		}
		if len(namespaces) == 0 && len(r.declaredNamespaces) >= 2 {
			statusMu.Lock()
			r.validationErrs = MultiError{newBuilder(codeEmptySource).sprintf("New commit would delete all Namespaces %v. "+
				"If this is not a mistake, follow directions for safely deleting all Namespaces.", r.declaredNamespaces).build()}
			statusMu.Unlock()
			return
		}
		statusMu.Lock()
		r.validationErrs = nil
		statusMu.Unlock()
		r.declaredNamespaces = namespaces
		if pr.errs == nil {
			r.cache.declaredUpdated = true
		}
	}
	if !r.cache.applied {
		declared := make([]*unstructured.Unstructured, len(pr.objsToApply))
		for i, o := range pr.objsToApply {
			declared[i] = o.Unstructured
		}
		statusMu.Lock()
		r.applyErrs = nil
		statusMu.Unlock()
		logf("Applier starting...")
		res := r.applier.applyRun(ctx, declared)
		statusMu.Lock()
		r.applyErrs = res.errs
		r.conflictErrs = res.conflicts
		statusMu.Unlock()
		if res.errs != nil || res.conflicts != nil {
			logf("Applier failed: %v", displayPaths.display(append(append(MultiError{}, res.errs...), res.conflicts...).Error()))
			return
		}
		logf("Applier succeeded")
		if pr.errs == nil {
			r.cache.applied = true
		}
	}
}

// --- the event loop (events.Funnel with the sync, retry and status publishers) ---

type backoff struct {
	duration time.Duration
	steps    int
}

func newRetryBackoff() *backoff { return &backoff{duration: time.Second, steps: 12} }

// step is wait.Backoff.Step with factor 2, jitter 0.1 and no cap.
func (b *backoff) step() time.Duration {
	d := b.duration
	b.steps--
	b.duration *= 2
	return d + time.Duration(rand.Float64()*0.1*float64(d))
}

func (r *reconciler) run(ctx context.Context) {
	syncTimer := time.NewTimer(r.opts.pollingPeriod)
	defer syncTimer.Stop()
	retry := newRetryBackoff()
	retryLimit := retry.steps
	retryTimer := time.NewTimer(retry.duration)
	defer retryTimer.Stop()
	for {
		var res reconcileResult
		attempted, resetBackoff := false, false
		select {
		case <-ctx.Done():
			return
		case <-syncTimer.C:
			res = r.reconcileOnce(ctx, triggerSync)
			attempted = true
			syncTimer.Reset(r.opts.pollingPeriod)
		case <-retryTimer.C:
			if retry.steps == 0 {
				logf("Retry limit (%d) has been reached", retryLimit)
				continue
			}
			d := retry.step()
			if r.needToRetry() {
				res = r.reconcileOnce(ctx, triggerRetry)
				attempted = true
			} else {
				resetBackoff = true
			}
			retryTimer.Reset(d)
		}
		if ctx.Err() != nil {
			return
		}
		if attempted {
			syncTimer.Reset(r.opts.pollingPeriod)
		}
		if res.success || res.sourceChanged || resetBackoff {
			retry = newRetryBackoff()
			retryTimer.Reset(retry.duration)
		}
	}
}

func (r *reconciler) needToRetry() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cache.needToRetry
}

// --- the finalizer (pkg/reconciler/finalizer) ---

// ensureFinalizer adds configsync.gke.io/reconciler to the sync object (Update, field manager configsync.gke.io).
func (r *reconciler) ensureFinalizer(ctx context.Context, obj *unstructured.Unstructured) error {
	for attempt := 0; attempt < 5; attempt++ {
		for _, f := range obj.GetFinalizers() {
			if f == reconcilerFinalizer {
				return nil
			}
		}
		obj.SetFinalizers(append(obj.GetFinalizers(), reconcilerFinalizer))
		_, err := r.sync.resource().Update(ctx, obj, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			logf("Finalizer injection successful")
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("failed to add finalizer: %w", err)
		}
		if obj, err = r.sync.get(ctx); err != nil {
			return err
		}
		if obj.GetDeletionTimestamp() != nil {
			return nil
		}
	}
	return fmt.Errorf("failed to add finalizer: too many conflicts")
}

func (r *reconciler) removeFinalizer(ctx context.Context) error {
	for attempt := 0; attempt < 5; attempt++ {
		obj, err := r.sync.get(ctx)
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		var kept []string
		found := false
		for _, f := range obj.GetFinalizers() {
			if f == reconcilerFinalizer {
				found = true
				continue
			}
			kept = append(kept, f)
		}
		if !found {
			return nil
		}
		obj.SetFinalizers(kept)
		_, err = r.sync.resource().Update(ctx, obj, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			logf("Finalizer removal successful")
			return nil
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("failed to remove finalizer: %w", err)
		}
	}
	return fmt.Errorf("failed to remove finalizer: too many conflicts")
}

// mutateStatus is mutate.Status for the finalizer's conditions.
func (r *reconciler) mutateStatus(ctx context.Context, mutate func(st *rsyncStatus) bool) error {
	for attempt := 0; attempt < 5; attempt++ {
		obj, err := r.sync.get(ctx)
		if err != nil {
			return err
		}
		st, err := decodeStatus(obj)
		if err != nil {
			return err
		}
		if !mutate(st) {
			return nil
		}
		if err := encodeStatus(obj, st); err != nil {
			return err
		}
		_, err = r.sync.resource().UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("too many conflicts")
}

// finalize is RootSyncFinalizer/RepoSyncFinalizer.Finalize: the Finalizing condition, then orphan (remove Config
// Sync's metadata from the managed objects) or, with deletion-propagation-policy Foreground, destroy them; the
// failure condition; then the finalizer goes.
func (r *reconciler) finalize(ctx context.Context, obj *unstructured.Unstructured) error {
	logf("Finalizer executing: Parser & Remediator stopped")
	if err := r.mutateStatus(ctx, func(st *rsyncStatus) bool {
		return setCondition(st, condReconcilerFinalizing, true, "ResourcesDeleting", "Deleting managed resource objects", "", nil, nil, nil, nowMeta())
	}); err != nil {
		return fmt.Errorf("setting Finalizing condition: %w", err)
	}
	var errs MultiError
	if obj.GetAnnotations()[annDeletionPolicy] == "Foreground" {
		errs = r.applier.destroyRun(ctx)
	} else {
		errs = r.unmanageObjects(ctx, lastSyncedCommit(obj) != "")
	}
	if err := r.mutateStatus(ctx, func(st *rsyncStatus) bool {
		if errs != nil {
			return setCondition(st, condReconcilerFinalFailed, true, "DestroyFailure", "Failed to delete managed resource objects", "", toCSE(errs), nil, nil, nowMeta())
		}
		return removeCondition(st, condReconcilerFinalFailed)
	}); err != nil {
		return fmt.Errorf("updating FinalizerFailure condition: %w", err)
	}
	if errs != nil {
		return fmt.Errorf("finalizing: %v", errs)
	}
	if err := r.mutateStatus(ctx, func(st *rsyncStatus) bool { return removeCondition(st, condReconcilerFinalizing) }); err != nil {
		return fmt.Errorf("removing Finalizing condition: %w", err)
	}
	return r.removeFinalizer(ctx)
}

// unmanageObjects is baseFinalizer.unmanageObjects: every object the ResourceGroup lists loses Config Sync's
// labels and annotations (merge patch).
func (r *reconciler) unmanageObjects(ctx context.Context, hasSynced bool) MultiError {
	refs, found, err := r.applier.inv.load(ctx)
	if err != nil {
		return MultiError{apiServerError(err, "failed to get ResourceGroup")}
	}
	if !found {
		if hasSynced {
			logf("ResourceGroup not found when attempting to unmanage objects for synced RSync")
		}
		return nil
	}
	r.applier.mapper.Reset()
	var errs MultiError
	for _, ref := range refs {
		ri, _, err := r.applier.resourceFor(ref)
		if err != nil {
			continue
		}
		obj, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			errs = append(errs, apiServerError(err, "failed to get object"))
			continue
		}
		if patch := removeConfigSyncMetadata(obj, r.applier.applySetID); patch != nil {
			b, _ := jsonMarshal(patch)
			if _, err := ri.Patch(ctx, ref.Name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
				errs = append(errs, apiServerError(err, "failed to patch object to remove metadata", obj))
			}
		}
	}
	return errs
}
