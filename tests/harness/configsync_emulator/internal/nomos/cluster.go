package nomos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"configsync.test/emulator/internal/core"
)

// How nomos status reads one cluster (cmd/nomos/status/client.go, cmd/nomos/util/configmanagement.go): the
// install checks, then the RootSyncs/RepoSyncs and their ResourceGroups. The reads go through the cluster interface,
// so the same rules run against a fake in the tests.

const (
	configManagementName   = "config-management"
	acmOperatorDeployment  = "config-management-operator"
	acmOperatorSelector    = "k8s-app=config-management-operator"
	rootSyncCRDName        = "rootsyncs.configsync.gke.io"
	kubeSystemNamespace    = "kube-system"
	syncingConditionSince  = "v1.10.0-rc.1"
	configManagementCRName = "configmanagements.configmanagement.gke.io"
)

var (
	errNoRootSyncsFound = errors.New("No RootSync resources found")
	errNoRepoSyncsFound = errors.New("No RepoSync resources found")
	errMonoRepoFound    = errors.New("This cluster is running in legacy mono-repo mode, which is no longer supported")
)

// cluster is what nomos asks the API server. Errors are the client errors (IsNotFound works on them).
type cluster interface {
	// configManagement is the ConfigManagement object config-management as JSON-decoded fields.
	configManagement(ctx context.Context) (map[string]any, error)
	deploymentExists(ctx context.Context, namespace, name string) error
	namespaceExists(ctx context.Context, name string) error
	// runningPods says whether a Pod matching the selector is in phase Running.
	runningPods(ctx context.Context, namespace, selector string) (bool, error)
	crdExists(ctx context.Context, name string) error
	// listSyncs lists RootSyncs or RepoSyncs (namespace "" = all namespaces), in the API server's order.
	listSyncs(ctx context.Context, kind, namespace string) ([]syncObject, error)
	listResourceGroups(ctx context.Context, namespace string) ([]resourceGroup, error)
	isNotFound(err error) bool
}

// cmNested reads a nested field of the ConfigManagement object.
func cmNested(ctx context.Context, c cluster, fields ...string) (any, error) {
	obj, err := c.configManagement(ctx)
	if err != nil {
		return nil, err
	}
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur, ok = m[f]
		if !ok {
			return nil, nil
		}
	}
	return cur, nil
}

// cmVersion is ConfigManagementClient.Version: status.configManagementVersion, NOT INSTALLED without the object.
func cmVersion(ctx context.Context, c cluster) (string, error) {
	v, err := cmNested(ctx, c, "status", "configManagementVersion")
	if err != nil {
		if c.isNotFound(err) {
			return notInstalledMsg, nil
		}
		return errorMsg, err
	}
	if v == nil {
		return unknownMsg, nil
	}
	s, ok := v.(string)
	if !ok {
		return errorMsg, fmt.Errorf("internal error parsing ConfigManagement: .status.configManagementVersion accessor error: %v is of the type %T, expected string", v, v)
	}
	if s == "" {
		return unknownMsg, nil
	}
	return s, nil
}

func isOssInstallation(ctx context.Context, c cluster) (bool, error) {
	v, err := cmVersion(ctx, c)
	if err != nil {
		return false, fmt.Errorf("Failed to get the ConfigManagment version: %v", err)
	}
	opErr := c.deploymentExists(ctx, core.SystemNamespace, acmOperatorDeployment)
	if opErr != nil && !c.isNotFound(opErr) {
		return false, fmt.Errorf("Failed to get the Operator Deployment: %v", opErr)
	}
	if v != notInstalledMsg && opErr == nil {
		return false, nil
	}
	crdErr := c.crdExists(ctx, rootSyncCRDName)
	if crdErr == nil {
		return true, nil
	}
	return false, fmt.Errorf("Failed to get the RootSync CRD: %v", crdErr)
}

func syncingConditionSupported(ctx context.Context, c cluster) bool {
	v, err := cmVersion(ctx, c)
	if err != nil {
		return false
	}
	version, ok := parseSemver(v)
	if !ok {
		return false
	}
	since, _ := parseSemver(syncingConditionSince)
	return !version.lessThan(since)
}

// clusterStatus is ClusterClient.clusterStatus.
func clusterStatus(ctx context.Context, c cluster, ref, namespace string) *clusterState {
	cs := &clusterState{ref: ref}
	isOss, err := isOssInstallation(ctx, c)
	if err != nil {
		cs.err = err.Error()
		return cs
	}
	var isMulti *bool
	if !isOss {
		var multiErr error
		isMulti, multiErr = isMultiRepo(ctx, c)
		cs.isMulti = isMulti
		if !isInstalled(ctx, c, cs) {
			return cs
		}
		if !isConfigured(ctx, c, cs) {
			return cs
		}
		if multiErr != nil {
			cs.status = errorMsg
			cs.err = multiErr.Error()
			return cs
		}
	}
	var statusErr error
	switch {
	case namespace == core.SystemNamespace:
		statusErr = rootRepoClusterStatus(ctx, c, cs)
	case namespace != "":
		statusErr = namespaceRepoClusterStatus(ctx, c, cs, namespace)
	case isOss || (isMulti != nil && *isMulti):
		statusErr = multiRepoClusterStatus(ctx, c, cs)
	default:
		cs.status = errorMsg
		statusErr = errMonoRepoFound
	}
	if statusErr != nil {
		cs.err = statusErr.Error()
	}
	return cs
}

func isMultiRepo(ctx context.Context, c cluster) (*bool, error) {
	v, err := cmNested(ctx, c, "spec", "enableMultiRepo")
	if err != nil {
		return nil, err
	}
	b, _ := v.(bool)
	return &b, nil
}

// isInstalled is ClusterClient.IsInstalled: the namespace and the ACM operator's Deployment and Pods.
func isInstalled(ctx context.Context, c cluster, cs *clusterState) bool {
	if err := c.namespaceExists(ctx, core.SystemNamespace); err != nil && c.isNotFound(err) {
		cs.status = notInstalledMsg
		cs.err = fmt.Sprintf("The %q namespace is not found", core.SystemNamespace)
		return false
	}
	errKube := c.deploymentExists(ctx, kubeSystemNamespace, acmOperatorDeployment)
	errCMS := c.deploymentExists(ctx, core.SystemNamespace, acmOperatorDeployment)
	runningKube, errPodsKube := c.runningPods(ctx, kubeSystemNamespace, acmOperatorSelector)
	runningCMS, errPodsCMS := c.runningPods(ctx, core.SystemNamespace, acmOperatorSelector)
	notFound := func(err error) bool { return err != nil && c.isNotFound(err) }
	failed := func(err error) bool { return err != nil && !c.isNotFound(err) }
	switch {
	case notFound(errKube) && notFound(errCMS):
		cs.status = notInstalledMsg
		cs.err = fmt.Sprintf("The ACM operator is neither installed in the %q namespace nor the %q namespace", kubeSystemNamespace, core.SystemNamespace)
	case notFound(errKube) && failed(errCMS):
		cs.status = errorMsg
		cs.err = fmt.Sprintf("The ACM operator is not installed in the %q namespace, and failed to get the ACM operator Deployment in the %q namespace: %v", kubeSystemNamespace, core.SystemNamespace, errCMS)
	case failed(errKube) && notFound(errCMS):
		cs.status = errorMsg
		cs.err = fmt.Sprintf("The ACM operator is not installed in the %q namespace, and failed to get the ACM operator Deployment in the %q namespace: %v", core.SystemNamespace, kubeSystemNamespace, errKube)
	case failed(errKube) && failed(errCMS):
		cs.status = errorMsg
		cs.err = fmt.Sprintf("Failed to get the ACM operator Deployment in the %q namespace (error: %v), and in the %q namespace (error: %v)", core.SystemNamespace, errCMS, kubeSystemNamespace, errKube)
	case errKube == nil && errCMS == nil:
		cs.status = errorMsg
		cmd := fmt.Sprintf("kubectl delete -n %s serviceaccounts config-management-operator && kubectl delete -n %s deployments config-management-operator", kubeSystemNamespace, kubeSystemNamespace)
		cs.err = fmt.Sprintf("Found two ACM operators: one from the %q namespace, and the other from the %q namespace. Please remove the one from the %q namespace: %s", kubeSystemNamespace, core.SystemNamespace, kubeSystemNamespace, cmd)
	case errCMS == nil && errPodsCMS != nil:
		cs.status = errorMsg
		cs.err = fmt.Sprintf("Failed to find the ACM operator Pods in the %q namespace: %v", core.SystemNamespace, errPodsCMS)
	case errCMS == nil && !runningCMS:
		cs.status = notRunningMsg
		cs.err = fmt.Sprintf("The ACM operator Pod is not running in the %q namespace", core.SystemNamespace)
	case errKube == nil && errPodsKube != nil:
		cs.status = errorMsg
		cs.err = fmt.Sprintf("Failed to find the ACM operator Pods in the %q namespace: %v", kubeSystemNamespace, errPodsKube)
	case errKube == nil && !runningKube:
		cs.status = notRunningMsg
		cs.err = fmt.Sprintf("The ACM operator Pod is not running in the %q namespace", kubeSystemNamespace)
	default:
		return true
	}
	return false
}

// isConfigured is ClusterClient.IsConfigured: the ConfigManagement object exists and lists no errors.
func isConfigured(ctx context.Context, c cluster, cs *clusterState) bool {
	v, err := cmNested(ctx, c, "status", "errors")
	if err != nil {
		if c.isNotFound(err) {
			cs.status = notConfiguredMsg
			cs.err = "ConfigManagement resource is missing"
		} else {
			cs.status = errorMsg
			cs.err = err.Error()
		}
		return false
	}
	var errs []string
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if s, ok := item.(string); ok {
				errs = append(errs, s)
			}
		}
	}
	if len(errs) > 0 {
		cs.status = notConfiguredMsg
		cs.err = strings.Join(errs, ", ")
		return false
	}
	return true
}

func multiRepoClusterStatus(ctx context.Context, c cluster, cs *clusterState) error {
	rootErr := rootRepoClusterStatus(ctx, c, cs)
	repoErr := namespaceRepoClusterStatus(ctx, c, cs, "")
	rootNotFound := errors.Is(rootErr, errNoRootSyncsFound)
	repoNotFound := errors.Is(repoErr, errNoRepoSyncsFound)
	if rootNotFound && repoNotFound {
		return combineErrors(rootErr, repoErr)
	}
	var errs []error
	if rootErr != nil && !rootNotFound {
		errs = append(errs, rootErr)
	}
	if repoErr != nil && !repoNotFound {
		errs = append(errs, repoErr)
	}
	return combineErrors(errs...)
}

func rootRepoClusterStatus(ctx context.Context, c cluster, cs *clusterState) error {
	return syncsClusterStatus(ctx, c, cs, core.RootSyncKind, core.SystemNamespace, errNoRootSyncsFound)
}

func namespaceRepoClusterStatus(ctx context.Context, c cluster, cs *clusterState, namespace string) error {
	return syncsClusterStatus(ctx, c, cs, core.RepoSyncKind, namespace, errNoRepoSyncsFound)
}

// syncsClusterStatus is rootRepoClusterStatus / namespaceRepoClusterStatus: every sync of the kind with its
// ResourceGroup (same namespace and name); a sync without one is an error of the cluster.
func syncsClusterStatus(ctx context.Context, c cluster, cs *clusterState, kind, namespace string, none error) error {
	var errs []error
	supported := syncingConditionSupported(ctx, c)
	listNamespace := namespace
	if kind == core.RootSyncKind {
		listNamespace = "" // RootSyncs are listed in every namespace
	}
	syncs, err := c.listSyncs(ctx, kind, listNamespace)
	var rgs []*resourceGroup
	if err != nil {
		errs = append(errs, err)
	} else {
		all, err := c.listResourceGroups(ctx, namespace)
		if err != nil {
			errs = append(errs, err)
		} else {
			rgs = consistentOrder(syncs, all)
		}
	}
	if len(syncs) != len(rgs) {
		errs = append(errs, fmt.Errorf("expected the number of %ss and ResourceGroups to be equal, but found %d %ss and %d ResourceGroups",
			kind, len(syncs), kind, len(rgs)))
	} else if len(syncs) != 0 {
		var repos []*repoState
		for i := range syncs {
			if rgs[i] == nil {
				errs = append(errs, fmt.Errorf("resourcegroups.kpt.dev %q not found in namespace %q", syncs[i].Metadata.Name, syncs[i].Metadata.Namespace))
			}
			syncs[i].Kind = kind
			repos = append(repos, syncRepoStatus(&syncs[i], rgs[i], supported))
		}
		sortRepos(repos)
		cs.repos = append(cs.repos, repos...)
	}
	combined := combineErrors(errs...)
	if combined != nil {
		cs.status = errorMsg
	} else if len(syncs) == 0 {
		combined = none
	}
	return combined
}

// consistentOrder pairs each sync with the ResourceGroup of its namespace and name (nil when there is none).
func consistentOrder(syncs []syncObject, groups []resourceGroup) []*resourceGroup {
	index := map[[2]string]int{}
	for i, rg := range groups {
		index[[2]string{rg.Metadata.Namespace, rg.Metadata.Name}] = i
	}
	out := make([]*resourceGroup, len(syncs))
	for i, s := range syncs {
		if j, ok := index[[2]string{s.Metadata.Namespace, s.Metadata.Name}]; ok {
			out[i] = &groups[j]
		}
	}
	return out
}

// multiError prints as go.uber.org/multierr does: the messages joined by "; ".
type multiError []error

func (m multiError) Error() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m multiError) Unwrap() []error { return m }

// combineErrors is multierr.Combine: nil without errors, the error itself when there is one, else a flat list.
func combineErrors(errs ...error) error {
	var flat multiError
	for _, e := range errs {
		if e == nil {
			continue
		}
		if m, ok := e.(multiError); ok {
			flat = append(flat, m...)
			continue
		}
		flat = append(flat, e)
	}
	switch len(flat) {
	case 0:
		return nil
	case 1:
		return flat[0]
	}
	return flat
}
