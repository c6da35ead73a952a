package reconciler

// The RootSync/RepoSync status the reconciler writes (pkg/parse/root_sync_client.go, repo_sync_client.go,
// pkg/rootsync/conditions.go, pkg/reposync/conditions.go, pkg/parse/status.go): source, rendering and sync stages,
// lastSyncedCommit and the Syncing condition. The object is read, its status decoded into the same shape as
// v1beta1.Status (so a write round-trips it like the typed client does), changed, compared with the old one ignoring
// timestamp values, and written back through the status subresource with field manager configsync.gke.io.

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"configsync.test/emulator/internal/core"
)

type ociStatus struct {
	Image string `json:"image"`
	Dir   string `json:"dir"`
}

type errorSummary struct {
	TotalCount                int  `json:"totalCount,omitempty"`
	Truncated                 bool `json:"truncated,omitempty"`
	ErrorCountAfterTruncation int  `json:"errorCountAfterTruncation,omitempty"`
}

type stageStatus struct {
	Git          json.RawMessage   `json:"gitStatus,omitempty"`
	Oci          *ociStatus        `json:"ociStatus,omitempty"`
	Helm         json.RawMessage   `json:"helmStatus,omitempty"`
	Commit       string            `json:"commit,omitempty"`
	LastUpdate   metav1.Time       `json:"lastUpdate,omitempty"`
	Message      string            `json:"message,omitempty"`
	Errors       []configSyncError `json:"errors,omitempty"`
	ErrorSummary *errorSummary     `json:"errorSummary,omitempty"`
}

type condition struct {
	Type               string            `json:"type"`
	Status             string            `json:"status"`
	LastUpdateTime     metav1.Time       `json:"lastUpdateTime,omitempty"`
	LastTransitionTime metav1.Time       `json:"lastTransitionTime,omitempty"`
	Reason             string            `json:"reason,omitempty"`
	Message            string            `json:"message,omitempty"`
	Commit             string            `json:"commit,omitempty"`
	Errors             []configSyncError `json:"errors,omitempty"`
	ErrorSourceRefs    []string          `json:"errorSourceRefs,omitempty"`
	ErrorSummary       *errorSummary     `json:"errorSummary,omitempty"`
}

type rsyncStatus struct {
	ObservedGeneration int64       `json:"observedGeneration"`
	Reconciler         string      `json:"reconciler,omitempty"`
	LastSyncedCommit   string      `json:"lastSyncedCommit,omitempty"`
	Source             stageStatus `json:"source,omitempty"`
	Rendering          stageStatus `json:"rendering,omitempty"`
	Sync               stageStatus `json:"sync,omitempty"`
	Conditions         []condition `json:"conditions,omitempty"`
}

const (
	condSyncing               = "Syncing"
	condReconcilerFinalizing  = "ReconcilerFinalizing"
	condReconcilerFinalFailed = "ReconcilerFinalizerFailure"
	errSourceRef              = "status.source.errors"
	errRenderingRef           = "status.rendering.errors"
	errSyncRef                = "status.sync.errors"
)

// --- the in-memory view of the stages (pkg/parse/status.go) ---

type sourceSpec struct{ Image, Dir string }

type stageState struct {
	spec       *sourceSpec
	commit     string
	message    string // rendering only
	errs       MultiError
	lastUpdate metav1.Time
	syncing    bool // sync only
	requires   bool // rendering only: RequiresRendering
}

func specEqual(a, b *sourceSpec) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// errsEqual is status.DeepEqual: same codes and bodies, order ignored.
func errsEqual(a, b MultiError) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if len(a) != len(b) {
		return false
	}
	key := func(m MultiError) []string {
		out := make([]string, len(m))
		for i, e := range m {
			out[i] = e.Code + "\x00" + e.Body
		}
		sort.Strings(out)
		return out
	}
	return reflect.DeepEqual(key(a), key(b))
}

func (s *stageState) sourceEquals(o *stageState) bool {
	if s == nil {
		return o == nil
	}
	return o != nil && s.commit == o.commit && errsEqual(s.errs, o.errs) && specEqual(s.spec, o.spec)
}

func (s *stageState) renderingEquals(o *stageState) bool {
	if s == nil {
		return o == nil
	}
	return o != nil && s.commit == o.commit && s.message == o.message && errsEqual(s.errs, o.errs) && specEqual(s.spec, o.spec)
}

func (s *stageState) syncEquals(o *stageState) bool {
	if s == nil {
		return o == nil
	}
	return o != nil && s.syncing == o.syncing && s.commit == o.commit && errsEqual(s.errs, o.errs) && specEqual(s.spec, o.spec)
}

type reconcilerStatus struct {
	source, rendering, sync *stageState
}

// needToSetSourceStatus / needToSetSyncStatus are ReconcilerStatus' methods of the same names.
func (s *reconcilerStatus) needToSetSourceStatus(n *stageState) bool {
	if s.source == nil {
		return n != nil
	}
	if s.source.lastUpdate.IsZero() {
		return true
	}
	if s.rendering != nil && s.source.lastUpdate.Before(&s.rendering.lastUpdate) {
		return true
	}
	return !s.source.sourceEquals(n)
}

func (s *reconcilerStatus) needToSetSyncStatus(n *stageState) bool {
	if s.sync == nil {
		return n != nil
	}
	if s.sync.lastUpdate.IsZero() {
		return true
	}
	if s.rendering != nil && s.sync.lastUpdate.Before(&s.rendering.lastUpdate) {
		return true
	}
	if s.source != nil && s.sync.lastUpdate.Before(&s.source.lastUpdate) {
		return true
	}
	return !s.sync.syncEquals(n)
}

// --- the sync object and its client ---

type syncClient struct {
	dyn       dynamic.Interface
	kind      string // RootSync or RepoSync
	name      string
	namespace string
	// sourceRepo is SOURCE_REPO (spec.oci.image as written), for the image-to-sync annotation.
	sourceRepo string
}

func (c *syncClient) resource() dynamic.ResourceInterface {
	return c.dyn.Resource(core.SyncGVR(c.kind)).Namespace(c.namespace)
}

func (c *syncClient) get(ctx context.Context) (*unstructured.Unstructured, error) {
	return c.resource().Get(ctx, c.name, metav1.GetOptions{})
}

func decodeStatus(obj *unstructured.Unstructured) (*rsyncStatus, error) {
	st := &rsyncStatus{}
	raw, found := obj.Object["status"]
	if !found || raw == nil {
		return st, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, err
	}
	return st, nil
}

func encodeStatus(obj *unstructured.Unstructured, st *rsyncStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var m map[string]interface{}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	obj.Object["status"] = m
	return nil
}

// normalizedJSON marshals a status with every set timestamp replaced by one fixed value, so two statuses compare
// equal when they differ only in timestamps (compare.IgnoreTimestampUpdates).
func normalizedJSON(st *rsyncStatus) string {
	cp := *st
	fix := metav1.Unix(1, 0)
	norm := func(t metav1.Time) metav1.Time {
		if t.IsZero() {
			return t
		}
		return fix
	}
	for _, s := range []*stageStatus{&cp.Source, &cp.Rendering, &cp.Sync} {
		s.LastUpdate = norm(s.LastUpdate)
	}
	cp.Conditions = append([]condition(nil), st.Conditions...)
	for i := range cp.Conditions {
		cp.Conditions[i].LastUpdateTime = norm(cp.Conditions[i].LastUpdateTime)
		cp.Conditions[i].LastTransitionTime = norm(cp.Conditions[i].LastTransitionTime)
	}
	b, _ := json.Marshal(&cp)
	return string(b)
}

func statusEqualIgnoringTimestamps(a, b *rsyncStatus) bool {
	return normalizedJSON(a) == normalizedJSON(b)
}

func findCondition(st *rsyncStatus, condType string) *condition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == condType {
			return &st.Conditions[i]
		}
	}
	return nil
}

func removeCondition(st *rsyncStatus, condType string) bool {
	var out []condition
	removed := false
	for _, c := range st.Conditions {
		if c.Type == condType {
			removed = true
			continue
		}
		out = append(out, c)
	}
	st.Conditions = out
	return removed
}

// setCondition is rootsync.setCondition / reposync.setCondition.
func setCondition(st *rsyncStatus, condType string, status bool, reason, message, commit string, errs []configSyncError,
	sources []string, summary *errorSummary, ts metav1.Time) (updated bool) {
	c := findCondition(st, condType)
	if c == nil {
		st.Conditions = append(st.Conditions, condition{Type: condType})
		c = &st.Conditions[len(st.Conditions)-1]
	}
	s := "False"
	if status {
		s = "True"
	}
	switch {
	case c.Status != s:
		c.Status = s
		c.LastTransitionTime = ts
	case c.Reason != reason || c.Message != message || c.Commit != commit || !reflect.DeepEqual(c.Errors, errs) ||
		!reflect.DeepEqual(c.ErrorSourceRefs, sources) || !reflect.DeepEqual(c.ErrorSummary, summary):
	default:
		return false
	}
	c.Reason, c.Message, c.Commit, c.Errors, c.ErrorSourceRefs, c.ErrorSummary = reason, message, commit, errs, sources, summary
	c.LastUpdateTime = ts
	return true
}

func setSyncing(st *rsyncStatus, status bool, reason, message, commit string, sources []string, summary *errorSummary, ts metav1.Time) {
	setCondition(st, condSyncing, status, reason, message, commit, nil, sources, summary, ts)
}

func setStageFields(s *stageStatus, n *stageState, withMessage bool) {
	cse := toCSE(n.errs)
	s.Commit = n.commit
	if n.spec != nil {
		s.Oci = &ociStatus{Image: n.spec.Image, Dir: n.spec.Dir}
	} else {
		s.Oci = nil
	}
	s.Git, s.Helm = nil, nil
	if withMessage {
		s.Message = n.message
	}
	s.ErrorSummary = &errorSummary{TotalCount: len(cse), ErrorCountAfterTruncation: len(cse)}
	s.Errors = cse
	s.LastUpdate = n.lastUpdate
}

// updateStatus reads the sync object, applies mutate to its status and writes it unless nothing but timestamps
// changed (skip(old, new) decides). A conflict re-reads and retries.
func (c *syncClient) updateStatus(ctx context.Context, getMsg, updateMsg string,
	mutate func(st *rsyncStatus), skip func(old, new *rsyncStatus) bool) *Error {
	for attempt := 0; ; attempt++ {
		obj, err := c.get(ctx)
		if err != nil {
			return apiServerError(err, getMsg)
		}
		old, err := decodeStatus(obj)
		if err != nil {
			return internalErrorf("decoding %s status: %v", c.kind, err)
		}
		st, _ := decodeStatus(obj)
		mutate(st)
		if skip(old, st) {
			return nil
		}
		if err := encodeStatus(obj, st); err != nil {
			return internalErrorf("encoding %s status: %v", c.kind, err)
		}
		_, err = c.resource().UpdateStatus(ctx, obj, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			return nil
		}
		if apierrors.IsConflict(err) && attempt < 5 {
			continue
		}
		return apiServerError(err, updateMsg)
	}
}

func (c *syncClient) parserSuffix() string {
	if c.kind == "RepoSync" {
		return "Parser"
	}
	return "parser"
}

// setSourceStatus is setSourceStatusWithRetries.
func (c *syncClient) setSourceStatus(ctx context.Context, n *stageState) *Error {
	return c.updateStatus(ctx, fmt.Sprintf("failed to get %s for parser", c.kind),
		fmt.Sprintf("failed to update %s source status from %s", c.kind, c.parserSuffix()),
		func(st *rsyncStatus) { mutateSourceStatus(st, n) },
		func(old, st *rsyncStatus) bool {
			return !old.Source.LastUpdate.IsZero() && statusEqualIgnoringTimestamps(old, st)
		})
}

// setRenderingStatus is SetRenderingStatus: nothing to do when the stage did not change.
func (c *syncClient) setRenderingStatus(ctx context.Context, old, n *stageState) *Error {
	if old.renderingEquals(n) {
		return nil
	}
	return c.updateStatus(ctx, fmt.Sprintf("failed to get %s for parser", c.kind),
		fmt.Sprintf("failed to update %s rendering status from %s", c.kind, c.parserSuffix()),
		func(st *rsyncStatus) { mutateRenderingStatus(st, n) },
		func(old, st *rsyncStatus) bool {
			return !old.Rendering.LastUpdate.IsZero() && statusEqualIgnoringTimestamps(old, st)
		})
}

// setSyncStatus is setSyncStatusWithRetries.
func (c *syncClient) setSyncStatus(ctx context.Context, n *stageState) *Error {
	return c.updateStatus(ctx, fmt.Sprintf("failed to get %s", c.kind),
		fmt.Sprintf("failed to update %s sync status", c.kind),
		func(st *rsyncStatus) { mutateSyncStatus(st, n) },
		func(old, st *rsyncStatus) bool {
			return !old.Sync.LastUpdate.IsZero() && statusEqualIgnoringTimestamps(old, st)
		})
}

// mutateSourceStatus is what setSourceStatusWithRetries changes: status.source and the Syncing condition
// (reason Source).
func mutateSourceStatus(st *rsyncStatus, n *stageState) {
	setStageFields(&st.Source, n, false)
	var sources []string
	if len(st.Source.Errors) > 0 {
		sources = []string{errSourceRef}
	}
	setSyncing(st, st.Source.ErrorSummary.TotalCount == 0, "Source", "Source", n.commit, sources, st.Source.ErrorSummary, n.lastUpdate)
}

// mutateRenderingStatus is what setRenderingStatusWithRetries changes: status.rendering and the Syncing condition
// (reason Rendering, the rendering message).
func mutateRenderingStatus(st *rsyncStatus, n *stageState) {
	setStageFields(&st.Rendering, n, true)
	var sources []string
	if len(st.Rendering.Errors) > 0 {
		sources = []string{errRenderingRef}
	}
	setSyncing(st, st.Rendering.ErrorSummary.TotalCount == 0, "Rendering", n.message, n.commit, sources, st.Rendering.ErrorSummary, n.lastUpdate)
}

// mutateSyncStatus is what setSyncStatusWithRetries changes: status.sync, and when source, rendering and sync are at
// the same commit, the Syncing condition (reason Sync, "Syncing" or "Sync Completed" even with errors) and
// lastSyncedCommit (only without errors).
func mutateSyncStatus(st *rsyncStatus, n *stageState) {
	cse := toCSE(n.errs)
	st.Sync.Commit = n.commit
	st.Sync.Git, st.Sync.Oci, st.Sync.Helm = st.Source.Git, st.Source.Oci, st.Source.Helm
	st.Sync.ErrorSummary = &errorSummary{TotalCount: len(cse), ErrorCountAfterTruncation: len(cse)}
	st.Sync.Errors = cse
	st.Sync.LastUpdate = n.lastUpdate
	if st.Source.Commit == st.Sync.Commit && st.Rendering.Commit == st.Sync.Commit {
		sources, summary := summarizeErrorsForCommit(st, st.Sync.Commit)
		if n.syncing {
			setSyncing(st, true, "Sync", "Syncing", st.Sync.Commit, sources, summary, st.Sync.LastUpdate)
		} else {
			if summary.TotalCount == 0 {
				st.LastSyncedCommit = st.Sync.Commit
			}
			setSyncing(st, false, "Sync", "Sync Completed", st.Sync.Commit, sources, summary, st.Sync.LastUpdate)
		}
	}
}

func summarizeErrorsForCommit(st *rsyncStatus, commit string) ([]string, *errorSummary) {
	var sources []string
	var summaries []*errorSummary
	if st.Source.Commit == commit && len(st.Source.Errors) > 0 {
		sources = append(sources, errSourceRef)
		summaries = append(summaries, st.Source.ErrorSummary)
	}
	if st.Rendering.Commit == commit && len(st.Rendering.Errors) > 0 {
		sources = append(sources, errRenderingRef)
		summaries = append(summaries, st.Rendering.ErrorSummary)
	}
	if st.Sync.Commit == commit && len(st.Sync.Errors) > 0 {
		sources = append(sources, errSyncRef)
		summaries = append(summaries, st.Sync.ErrorSummary)
	}
	total := &errorSummary{}
	for _, s := range summaries {
		if s == nil {
			continue
		}
		total.TotalCount += s.TotalCount
		total.ErrorCountAfterTruncation += s.ErrorCountAfterTruncation
		if s.Truncated {
			total.Truncated = true
		}
	}
	return sources, total
}

// setImageToSyncAnnotation is SetImageToSyncAnnotation: a merge patch of the annotation
// configsync.gke.io/image-to-sync: <SOURCE_REPO>@sha256:<commit> (field manager configsync.gke.io). An admission
// webhook that denies it makes the error a source error.
func (c *syncClient) setImageToSyncAnnotation(ctx context.Context, commit string) *Error {
	value, _ := json.Marshal(fmt.Sprintf("%s@sha256:%s", c.sourceRepo, commit))
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"%s":%s}}}`, annImageToSync, value)
	_, err := c.resource().Patch(ctx, c.name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return apiServerErrorf(err, "failed to patch %s annotation: %s", c.kind, annImageToSync)
	}
	return nil
}

// getReconcilerStatus is GetReconcilerStatus: the stages as the RSync status shows them (errors are not parsed).
func (c *syncClient) getReconcilerStatus(ctx context.Context) (*reconcilerStatus, *Error) {
	obj, err := c.get(ctx)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, apiServerError(err, fmt.Sprintf("failed to get %s", c.kind))
	}
	st, err := decodeStatus(obj)
	if err != nil {
		return nil, internalErrorf("decoding %s status: %v", c.kind, err)
	}
	syncing := false
	if cond := findCondition(st, condSyncing); cond != nil && cond.Status == "True" {
		syncing = true
	}
	spec := func(s stageStatus) *sourceSpec {
		if s.Oci == nil {
			return nil
		}
		return &sourceSpec{Image: s.Oci.Image, Dir: s.Oci.Dir}
	}
	return &reconcilerStatus{
		source:    &stageState{spec: spec(st.Source), commit: st.Source.Commit, lastUpdate: st.Source.LastUpdate},
		rendering: &stageState{spec: spec(st.Rendering), commit: st.Rendering.Commit, message: st.Rendering.Message, lastUpdate: st.Rendering.LastUpdate},
		sync:      &stageState{spec: spec(st.Sync), commit: st.Sync.Commit, lastUpdate: st.Sync.LastUpdate, syncing: syncing},
	}, nil
}

// lastSyncedCommit reads status.lastSyncedCommit (the finalizer's "has synced" check).
func lastSyncedCommit(obj *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(obj.Object, "status", "lastSyncedCommit")
	return v
}

func isForbidden(err error) bool { return apierrors.IsForbidden(err) }
