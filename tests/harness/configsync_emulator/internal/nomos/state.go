package nomos

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// The verdicts and the text of `nomos status` (cmd/nomos/status/cluster_state.go, resource_status.go and
// cmd/nomos/util of Config Sync v1.24.3).

const (
	pendingMsg     = "PENDING"
	syncedMsg      = "SYNCED"
	stalledMsg     = "STALLED"
	reconcilingMsg = "RECONCILING"
	errorMsg       = "ERROR"

	notInstalledMsg  = "NOT INSTALLED"
	notRunningMsg    = "NOT RUNNING"
	notConfiguredMsg = "NOT CONFIGURED"
	unknownMsg       = "UNKNOWN"

	indent    = "  "
	separator = "--------------------"

	commitHashLength = 8
	emptyCommit      = "N/A"

	rootScope = "<root>"

	// Condition types of RootSync/RepoSync and ResourceGroup.
	condStalled     = "Stalled"
	condReconciling = "Reconciling"
	condSyncing     = "Syncing"
	condOwnership   = "OwnershipOverlap"
	condTrue        = "True"

	// Error sources a Syncing condition refers to (errorSourceRefs).
	renderingErrorRef = "status.rendering.errors"
	sourceErrorRef    = "status.source.errors"
	syncErrorRef      = "status.sync.errors"
)

// clusterState is what nomos prints for one cluster (context).
type clusterState struct {
	ref     string
	status  string
	err     string
	repos   []*repoState
	isMulti *bool
}

// repoState is what nomos prints for one RootSync or RepoSync.
type repoState struct {
	scope        string
	syncName     string
	source       string
	status       string
	commit       string
	lastSync     metaTime
	errors       []string
	errorSummary *errorSummary
	resources    []resourceStatus
}

func unavailableCluster(ref string) *clusterState {
	return &clusterState{ref: ref, status: "N/A", err: "Failed to connect to cluster"}
}

// printOptions are the flags that change what printRows writes.
type printOptions struct {
	name      string // --name: only the syncs of that name
	resources bool   // --resources: the "Managed resources" table
}

func (c *clusterState) printRows(w io.Writer, opts printOptions) {
	fmt.Fprintf(w, "\n")
	fmt.Fprintf(w, "%s\n", c.ref)
	if c.status != "" || c.err != "" {
		fmt.Fprintf(w, "%s%s\n", indent, separator)
		fmt.Fprintf(w, "%s%s\t%s\n", indent, c.status, c.err)
	}
	for _, repo := range c.repos {
		if opts.name == "" || opts.name == repo.syncName {
			fmt.Fprintf(w, "%s%s\n", indent, separator)
			repo.printRows(w, opts.resources)
		}
	}
}

func (r *repoState) printRows(w io.Writer, showResources bool) {
	fmt.Fprintf(w, "%s%s:%s\t%s\t\n", indent, r.scope, r.syncName, r.source)
	if r.status == syncedMsg {
		fmt.Fprintf(w, "%s%s @ %v\t%s\t\n", indent, r.status, r.lastSync, r.commit)
	} else {
		fmt.Fprintf(w, "%s%s\t%s\t\n", indent, r.status, r.commit)
	}
	if r.errorSummary != nil && r.errorSummary.TotalCount > 0 {
		if r.errorSummary.Truncated {
			fmt.Fprintf(w, "%sTotalErrorCount: %d, ErrorTruncated: %v, ErrorCountAfterTruncation: %d\n", indent,
				r.errorSummary.TotalCount, r.errorSummary.Truncated, r.errorSummary.ErrorCountAfterTruncation)
		} else {
			fmt.Fprintf(w, "%sTotalErrorCount: %d\n", indent, r.errorSummary.TotalCount)
		}
	}
	for _, e := range r.errors {
		fmt.Fprintf(w, "%sError:\t%s\t\n", indent, e)
	}
	if showResources && len(r.resources) > 0 {
		sortResources(r.resources)
		fmt.Fprintf(w, "%sManaged resources:\n", indent)
		hasSourceHash := r.resources[0].SourceHash != ""
		if !hasSourceHash {
			fmt.Fprintf(w, "%s\tNAMESPACE\tNAME\tSTATUS\n", indent)
		} else {
			fmt.Fprintf(w, "%s\tNAMESPACE\tNAME\tSTATUS\tSOURCEHASH\n", indent)
		}
		for _, res := range r.resources {
			if !hasSourceHash {
				fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", indent, res.Namespace, resourceString(res), res.Status)
			} else {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", indent, res.Namespace, resourceString(res), res.Status, res.SourceHash)
			}
			for _, cond := range res.Conditions {
				fmt.Fprintf(w, "%s%s%s%s%s\n", indent, indent, indent, indent, cond.Message)
			}
		}
	}
}

// resourceString is kind[.group]/name, the kind in lower case.
func resourceString(r resourceStatus) string {
	if r.Group == "" {
		return fmt.Sprintf("%s/%s", strings.ToLower(r.Kind), r.Name)
	}
	return fmt.Sprintf("%s.%s/%s", strings.ToLower(r.Kind), r.Group, r.Name)
}

// sortResources orders by namespace, then by resourceString (byNamespaceAndType; sort.Sort, not stable).
func sortResources(resources []resourceStatus) {
	sort.Sort(byNamespaceAndType(resources))
}

type byNamespaceAndType []resourceStatus

func (b byNamespaceAndType) Len() int      { return len(b) }
func (b byNamespaceAndType) Swap(i, j int) { b[i], b[j] = b[j], b[i] }
func (b byNamespaceAndType) Less(i, j int) bool {
	if b[i].Namespace != b[j].Namespace {
		return b[i].Namespace < b[j].Namespace
	}
	return resourceString(b[i]) < resourceString(b[j])
}

// resourceLevelStatus is the ResourceGroup's resourceStatuses, with objects another inventory owns marked Conflict.
func resourceLevelStatus(rg *resourceGroup) []resourceStatus {
	if rg == nil {
		return nil
	}
	states := rg.Status.ResourceStatuses
	for i, s := range states {
		for _, c := range s.Conditions {
			if c.Type == condOwnership && c.Status == condTrue {
				states[i].Status = "Conflict"
			}
		}
	}
	return states
}

// sourceString is the second column of a sync's first line.
func sourceString(spec syncSpec) string {
	switch spec.SourceType {
	case "oci":
		return ociString(spec.Oci)
	case "helm":
		return helmString(spec.Helm)
	}
	return gitString(spec.Git)
}

func gitString(git *gitSpec) string {
	if git == nil {
		return "N/A"
	}
	var s string
	if git.Dir == "" || git.Dir == "." || git.Dir == "/" {
		s = strings.TrimSuffix(git.Repo, "/")
	} else {
		s = strings.TrimSuffix(git.Repo, "/") + "/" + path.Clean(strings.TrimPrefix(git.Dir, "/"))
	}
	switch {
	case git.Revision != "" && git.Revision != "HEAD":
		s = fmt.Sprintf("%s@%s", s, git.Revision)
	case git.Branch != "":
		s = fmt.Sprintf("%s@%s", s, git.Branch)
	default:
		s = fmt.Sprintf("%s@master", s)
	}
	return s
}

func ociString(oci *ociSpec) string {
	if oci == nil {
		return "N/A"
	}
	if oci.Dir == "" || oci.Dir == "." || oci.Dir == "/" {
		return strings.TrimSuffix(oci.Image, "/")
	}
	return strings.TrimSuffix(oci.Image, "/") + "/" + path.Clean(strings.TrimPrefix(oci.Dir, "/"))
}

func helmString(helm *helmSpec) string {
	if helm == nil {
		return "N/A"
	}
	s := strings.TrimSuffix(helm.Repo, "/") + "/" + helm.Chart
	if helm.Version != "" {
		return fmt.Sprintf("%s:%s", s, helm.Version)
	}
	return fmt.Sprintf("%s:latest", s)
}

func getCondition(conditions []syncCondition, condType string) *syncCondition {
	for i := range conditions {
		if conditions[i].Type == condType {
			return &conditions[i]
		}
	}
	return nil
}

// conditionHasNoErrors: the error summary's total when there is one, else the condition's own errors.
func conditionHasNoErrors(cond syncCondition) bool {
	if cond.ErrorSummary == nil {
		return len(cond.Errors) == 0
	}
	return cond.ErrorSummary.TotalCount == 0
}

// referencedErrors are the errors of the status fields a condition's errorSourceRefs name, in their order.
func referencedErrors(status syncStatus, refs []string) []configSyncError {
	var errs []configSyncError
	for _, ref := range refs {
		switch ref {
		case renderingErrorRef:
			errs = append(errs, status.Rendering.Errors...)
		case sourceErrorRef:
			errs = append(errs, status.Source.Errors...)
		case syncErrorRef:
			errs = append(errs, status.Sync.Errors...)
		}
	}
	return errs
}

func errorMessages(errs []configSyncError) []string {
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.ErrorMessage)
	}
	return msgs
}

func countedSummary(errs []string) *errorSummary {
	if len(errs) == 0 {
		return nil
	}
	return &errorSummary{TotalCount: len(errs), ErrorCountAfterTruncation: len(errs)}
}

// syncRepoStatus is RootRepoStatus / namespaceRepoStatus: the state of one sync object and its ResourceGroup (nil
// when there is none). syncingConditionSupported is false unless the ConfigManagement object says v1.10.0-rc.1+.
func syncRepoStatus(rs *syncObject, rg *resourceGroup, syncingConditionSupported bool) *repoState {
	state := &repoState{
		syncName: rs.Metadata.Name,
		source:   sourceString(rs.Spec),
		commit:   emptyCommit,
	}
	if rs.Kind == "RootSync" {
		state.scope = rootScope
	} else {
		state.scope = rs.Metadata.Namespace
	}
	status := rs.Status
	stalled := getCondition(status.Conditions, condStalled)
	reconciling := getCondition(status.Conditions, condReconciling)
	syncing := getCondition(status.Conditions, condSyncing)
	switch {
	case stalled != nil && stalled.Status == condTrue:
		state.status = stalledMsg
		state.errors = []string{stalled.Message}
		if stalled.ErrorSummary != nil {
			state.errorSummary = stalled.ErrorSummary
		} else {
			state.errorSummary = &errorSummary{TotalCount: 1, ErrorCountAfterTruncation: 1}
		}
	case reconciling != nil && reconciling.Status == condTrue:
		state.status = reconcilingMsg
	case syncing == nil:
		if syncingConditionSupported {
			state.status = pendingMsg
			break
		}
		// Clusters older than the Syncing condition: the verdict from the stages' commits and errors.
		state.status = legacySyncStatus(status)
		if state.status == syncedMsg {
			state.lastSync = status.Sync.LastUpdate
		}
		state.commit = commitHash(status.Sync.Commit)
		state.errors = legacyErrors(status)
		state.errorSummary = countedSummary(state.errors)
		state.resources = resourceLevelStatus(rg)
	case syncing.Status == condTrue:
		state.status = pendingMsg
		state.commit = syncing.Commit
		state.errors, state.errorSummary = conditionErrors(status, syncing)
	case conditionHasNoErrors(*syncing):
		state.status = syncedMsg
		state.lastSync = status.Sync.LastUpdate
		state.commit = syncing.Commit
		state.resources = resourceLevelStatus(rg)
	default:
		state.status = errorMsg
		state.commit = syncing.Commit
		state.errors, state.errorSummary = conditionErrors(status, syncing)
	}
	return state
}

func conditionErrors(status syncStatus, cond *syncCondition) ([]string, *errorSummary) {
	if cond.ErrorSummary != nil {
		return errorMessages(referencedErrors(status, cond.ErrorSourceRefs)), cond.ErrorSummary
	}
	errs := errorMessages(cond.Errors)
	return errs, countedSummary(errs)
}

func commitHash(commit string) string {
	if commit == "" {
		return emptyCommit
	}
	if len(commit) > commitHashLength {
		return commit[:commitHashLength]
	}
	return commit
}

func legacySyncStatus(status syncStatus) string {
	if len(status.Source.Errors) > 0 || len(status.Sync.Errors) > 0 || len(status.Rendering.Errors) > 0 {
		return errorMsg
	}
	if status.Sync.Commit == "" {
		return pendingMsg
	}
	if status.Sync.Commit == status.Source.Commit {
		if status.Rendering.Commit == "" || status.Sync.Commit == status.Rendering.Commit {
			return syncedMsg
		}
	}
	return pendingMsg
}

// legacyErrors: the Stalled message if stalled (never here: Stalled=True is decided first), else the rendering,
// source and sync errors in that order.
func legacyErrors(status syncStatus) []string {
	if c := getCondition(status.Conditions, condStalled); c != nil && c.Status == condTrue {
		return []string{c.Message}
	}
	var errs []string
	errs = append(errs, errorMessages(status.Rendering.Errors)...)
	errs = append(errs, errorMessages(status.Source.Errors)...)
	errs = append(errs, errorMessages(status.Sync.Errors)...)
	return errs
}

// sortRepos orders syncs by scope, then name.
func sortRepos(repos []*repoState) {
	sort.Slice(repos, func(i, j int) bool {
		return repos[i].scope < repos[j].scope || (repos[i].scope == repos[j].scope && repos[i].syncName < repos[j].syncName)
	})
}
