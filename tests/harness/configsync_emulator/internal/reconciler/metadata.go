package reconciler

// The labels and annotations Config Sync puts on what it manages (pkg/metadata, pkg/parse/annotations.go,
// pkg/applyset, pkg/declared/resource_manager.go, cli-utils' inventory and lifecycle annotations).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	configManagementPrefix = "configmanagement.gke.io/"
	configSyncPrefix       = "configsync.gke.io/"

	annSourcePath        = configManagementPrefix + "source-path"
	annToken             = configManagementPrefix + "token"
	annManaged           = configManagementPrefix + "managed"
	annNamespaceSelector = configManagementPrefix + "namespace-selector"
	annClusterSelector   = configManagementPrefix + "cluster-selector"
	annClusterName       = configManagementPrefix + "cluster-name"
	annGitContext        = configSyncPrefix + "git-context"
	annManager           = configSyncPrefix + "manager"
	annResourceID        = configSyncPrefix + "resource-id"
	annDeclaredFields    = configSyncPrefix + "declared-fields"
	annClusterNameSel    = configSyncPrefix + "cluster-name-selector"
	annImageToSync       = configSyncPrefix + "image-to-sync"
	annStatusMode        = configSyncPrefix + "status"
	annDeletionPolicy    = configSyncPrefix + "deletion-propagation-policy"
	annUnknownScope      = configSyncPrefix + "unknown-scope"
	annOwningInventory   = "config.k8s.io/owning-inventory"
	annLocalConfig       = "config.kubernetes.io/local-config"
	annLifecycleMutation = "client.lifecycle.config.k8s.io/mutation"
	annLifecycleDeletion = "client.lifecycle.config.k8s.io/deletion"
	annOnRemove          = "cli-utils.sigs.k8s.io/on-remove"
	annDependsOn         = "config.kubernetes.io/depends-on"
	annHNCManagedBy      = "hnc.x-k8s.io/managed-by"

	lblManagedBy       = "app.kubernetes.io/managed-by"
	lblApplySetPartOf  = "applyset.kubernetes.io/part-of"
	lblDeclaredVersion = configSyncPrefix + "declared-version"
	lblInventoryID     = "cli-utils.sigs.k8s.io/inventory-id"
	lblSyncKind        = configSyncPrefix + "sync-kind"
	lblSyncName        = configSyncPrefix + "sync-name"
	lblSyncNamespace   = configSyncPrefix + "sync-namespace"

	managedByValue     = "configmanagement.gke.io"
	managementEnabled  = "enabled"
	managementDisabled = "disabled"
	preventDeletion    = "detach"
	ignoreMutation     = "ignore"

	reconcilerFinalizer = configSyncPrefix + "reconciler"
	fieldManager        = "configsync.gke.io"
	controllerNamespace = "config-management-system"
	rootScope           = ":root"
)

// sourceAnnotations are the Config Sync annotations a user may declare (metadata.IsSourceAnnotation).
var sourceAnnotations = map[string]bool{
	annNamespaceSelector: true,
	annClusterSelector:   true,
	annClusterNameSel:    true,
	annManaged:           true,
	annLifecycleMutation: true,
	annDeletionPolicy:    true,
}

func hasConfigSyncPrefix(k string) bool {
	return strings.HasPrefix(k, configManagementPrefix) || strings.HasPrefix(k, configSyncPrefix)
}

// isConfigSyncAnnotation / isConfigSyncLabel are metadata.isConfigSyncAnnotation / isConfigSyncLabel.
func isConfigSyncAnnotation(k, v string) bool {
	return hasConfigSyncPrefix(k) || strings.HasPrefix(k, annLifecycleMutation) || k == annOwningInventory ||
		k == annDeletionPolicy || (k == annHNCManagedBy && v == managedByValue)
}

func isConfigSyncLabel(k, v string) bool {
	return hasConfigSyncPrefix(k) || (k == lblManagedBy && v == managedByValue)
}

// removeConfigSyncMetadata is metadata.RemoveConfigSyncMetadata + RemoveApplySetPartOfLabel: returns the changed
// annotations and labels (nil = remove the key) for a merge patch, or nil when nothing changes.
func removeConfigSyncMetadata(obj *unstructured.Unstructured, applySetID string) map[string]interface{} {
	annotations := map[string]interface{}{}
	for k, v := range obj.GetAnnotations() {
		if isConfigSyncAnnotation(k, v) && k != annLifecycleMutation {
			annotations[k] = nil
		}
	}
	labels := map[string]interface{}{}
	for k, v := range obj.GetLabels() {
		if isConfigSyncLabel(k, v) || (k == lblApplySetPartOf && v == applySetID) {
			labels[k] = nil
		}
	}
	if len(annotations) == 0 && len(labels) == 0 {
		return nil
	}
	meta := map[string]interface{}{}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	return map[string]interface{}{"metadata": meta}
}

// applySetID is kubectl's ApplySet ID of the sync object (pkg/applyset.IDFromSync):
// applyset-<base64url(sha256(name.namespace.kind.group))>-v1.
func applySetID(syncKind, syncName, syncNamespace string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s.%s.%s.%s", syncName, syncNamespace, syncKind, "configsync.gke.io")))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// resourceManager is declared.ResourceManager: ":root" or "<ns>", suffixed "_<name>" unless the name is the default.
func resourceManager(scope, syncName string) string {
	if syncName == "root-sync" || syncName == "repo-sync" {
		return scope
	}
	return scope + "_" + syncName
}

// inventoryID is applier.InventoryID: "<namespace>_<name>".
func inventoryID(syncName, syncNamespace string) string { return syncNamespace + "_" + syncName }

// gknn is core.GKNN, the resource-id annotation value.
func gknn(group, kind, namespace, name string) string {
	if namespace == "" {
		return fmt.Sprintf("%s_%s_%s", group, strings.ToLower(kind), name)
	}
	return fmt.Sprintf("%s_%s_%s_%s", group, strings.ToLower(kind), namespace, name)
}

// sourceContext is the git-context annotation value: {"repo":..., "branch":..., "rev":...} without empty fields.
func gitContext(repo, branch, rev string) string {
	type sc struct {
		Repo   string `json:"repo"`
		Branch string `json:"branch,omitempty"`
		Rev    string `json:"rev,omitempty"`
	}
	b, _ := json.Marshal(sc{Repo: repo, Branch: branch, Rev: rev})
	return string(b)
}

// csMetadata is metadata.ConfigSyncMetadata.
type csMetadata struct {
	applySetID, gitContext, manager, sourceHash, inventoryID string
}

func (c csMetadata) set(obj *unstructured.Unstructured) {
	setLabel(obj, lblManagedBy, managedByValue)
	setLabel(obj, lblApplySetPartOf, c.applySetID)
	setAnnotation(obj, annGitContext, c.gitContext)
	setAnnotation(obj, annManager, c.manager)
	setAnnotation(obj, annToken, c.sourceHash)
	gvk := obj.GroupVersionKind()
	setAnnotation(obj, annResourceID, gknn(gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName()))
	setAnnotation(obj, annOwningInventory, c.inventoryID)
	if obj.GetAnnotations()[annManaged] != managementDisabled {
		setAnnotation(obj, annManaged, managementEnabled)
	}
}

func setLabel(obj *unstructured.Unstructured, k, v string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[k] = v
	obj.SetLabels(labels)
}

func setAnnotation(obj *unstructured.Unstructured, k, v string) {
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[k] = v
	obj.SetAnnotations(annotations)
}

func removeAnnotation(obj *unstructured.Unstructured, k string) {
	annotations := obj.GetAnnotations()
	if _, ok := annotations[k]; ok {
		delete(annotations, k)
		obj.SetAnnotations(annotations)
	}
}
