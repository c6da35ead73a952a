package manager

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// applySetID is kubectl's ApplySet ID of the sync object as ApplySet parent (pkg/applyset.IDFromSync):
// applyset-base64url(sha256("<name>.<namespace>.<Kind>.<group>"))-v1.
func applySetID(kind, name, namespace string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{name, namespace, kind, "configsync.gke.io"}, ".")))
	return fmt.Sprintf("applyset-%s-v1", base64.RawURLEncoding.EncodeToString(sum[:]))
}

func applySetTooling() string {
	return applySetToolingName + "/" + applySetToolingVersion
}

// The status is edited as the unstructured JSON the API server returned, so that whatever the reconciler wrote
// (source/rendering/sync, Syncing, errors) is kept as is; the helpers below are pkg/rootsync|reposync/conditions.go.

var singleErrorSummary = map[string]interface{}{"totalCount": int64(1), "errorCountAfterTruncation": int64(1)}

type conditions struct {
	list []interface{}
	now  func() string
}

func nowString() string {
	return time.Now().UTC().Format(time.RFC3339)
}

func (c *conditions) find(condType string) map[string]interface{} {
	for _, item := range c.list {
		if m, ok := item.(map[string]interface{}); ok && m["type"] == condType {
			return m
		}
	}
	return nil
}

func (c *conditions) remove(condType string) {
	var kept []interface{}
	for _, item := range c.list {
		if m, ok := item.(map[string]interface{}); ok && m["type"] == condType {
			continue
		}
		kept = append(kept, item)
	}
	c.list = kept
}

func str(m map[string]interface{}, key string) string {
	s, _ := m[key].(string)
	return s
}

// setField sets a string field, dropping it when empty (omitempty).
func setField(m map[string]interface{}, key string, value interface{}) {
	switch v := value.(type) {
	case string:
		if v == "" {
			delete(m, key)
			return
		}
	case nil:
		delete(m, key)
		return
	case map[string]interface{}:
		if v == nil {
			delete(m, key)
			return
		}
	}
	m[key] = value
}

func normalizeNil(v interface{}) interface{} {
	if m, ok := v.(map[string]interface{}); ok && m == nil {
		return nil
	}
	return v
}

// set is setCondition: it reports whether the condition changed and whether its status transitioned.
func (c *conditions) set(condType, status, reason, message string, errorSummary map[string]interface{}) (updated, transitioned bool) {
	cond := c.find(condType)
	if cond == nil {
		cond = map[string]interface{}{"type": condType}
		c.list = append(c.list, cond)
	}
	now := c.now()
	var summary interface{}
	if errorSummary != nil {
		summary = copyMap(errorSummary)
	}
	if str(cond, "status") != status {
		cond["status"] = status
		cond["lastTransitionTime"] = now
		transitioned, updated = true, true
	} else if str(cond, "reason") != reason || str(cond, "message") != message || str(cond, "commit") != "" ||
		cond["errors"] != nil || cond["errorSourceRefs"] != nil || !reflect.DeepEqual(normalizeNil(cond["errorSummary"]), summary) {
		updated = true
	} else {
		return false, false
	}
	setField(cond, "reason", reason)
	setField(cond, "message", message)
	delete(cond, "commit")
	delete(cond, "errors")
	delete(cond, "errorSourceRefs")
	setField(cond, "errorSummary", summary)
	cond["lastUpdateTime"] = now
	return updated, transitioned
}

// clear is ClearCondition: a True condition becomes False with no reason, message or errors.
func (c *conditions) clear(condType string) {
	cond := c.find(condType)
	if cond == nil || str(cond, "status") == "False" {
		return
	}
	now := c.now()
	cond["status"] = "False"
	delete(cond, "reason")
	delete(cond, "message")
	cond["lastTransitionTime"] = now
	cond["lastUpdateTime"] = now
	delete(cond, "errors")
	delete(cond, "errorSourceRefs")
	delete(cond, "errorSummary")
}

// setReconciling is SetReconciling: on a transition the Syncing condition is removed.
func (c *conditions) setReconciling(reason, message string) {
	if _, transitioned := c.set("Reconciling", "True", reason, message, nil); transitioned {
		c.remove("Syncing")
	}
}

// setStalled is SetStalled.
func (c *conditions) setStalled(reason string, err error) {
	if _, transitioned := c.set("Stalled", "True", reason, err.Error(), singleErrorSummary); transitioned {
		c.remove("Syncing")
	}
}

func copyMap(m map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// normalizeStatus gives the status the shape the real manager's typed round trip gives it: source, rendering and
// sync always present with lastUpdate (null when unset), observedGeneration always present, conditions with their
// timestamps.
func normalizeStatus(status map[string]interface{}) map[string]interface{} {
	if status == nil {
		status = map[string]interface{}{}
	}
	for _, key := range []string{"source", "rendering", "sync"} {
		sub, _ := status[key].(map[string]interface{})
		if sub == nil {
			sub = map[string]interface{}{}
		}
		if _, ok := sub["lastUpdate"]; !ok {
			sub["lastUpdate"] = nil
		}
		status[key] = sub
	}
	if _, ok := status["observedGeneration"]; !ok {
		status["observedGeneration"] = int64(0)
	}
	if list, ok := status["conditions"].([]interface{}); ok {
		if len(list) == 0 {
			delete(status, "conditions")
		}
		for _, item := range list {
			if m, ok := item.(map[string]interface{}); ok {
				for _, key := range []string{"lastUpdateTime", "lastTransitionTime"} {
					if _, ok := m[key]; !ok {
						m[key] = nil
					}
				}
			}
		}
	}
	return status
}

// statusEdit describes a change to the manager-owned part of a sync status.
type statusEdit func(c *conditions)

// applyStatusEdit applies edit to a copy of status and sets reconciler and observedGeneration, as updateSyncStatus
// does. It returns the new status and whether it differs from the old one.
func applyStatusEdit(old map[string]interface{}, reconciler string, generation int64, edit statusEdit, now func() string) (map[string]interface{}, bool) {
	before := normalizeStatus(deepCopyJSON(old))
	after := normalizeStatus(deepCopyJSON(old))
	list, _ := after["conditions"].([]interface{})
	c := &conditions{list: list, now: now}
	edit(c)
	if len(c.list) > 0 {
		after["conditions"] = c.list
	} else {
		delete(after, "conditions")
	}
	if reconciler != "" {
		after["reconciler"] = reconciler
	}
	after["observedGeneration"] = generation
	return after, !reflect.DeepEqual(before, after)
}

func deepCopyJSON(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	return deepCopyValue(m).(map[string]interface{})
}

func deepCopyValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, val := range t {
			out[k] = deepCopyValue(val)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			out[i] = deepCopyValue(val)
		}
		return out
	case int:
		return int64(t)
	case int32:
		return int64(t)
	default:
		return v
	}
}
