package resourcegroup

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// resourceMap is controllers/resourcemap: which ResourceGroups list which objects, and the cached status of each
// listed object (kept up to date by the watches).
type resourceMap struct {
	mu            sync.RWMutex
	resToGroups   map[ObjMetadata]map[types.NamespacedName]bool
	resToStatus   map[ObjMetadata]*cachedStatus
	groupToRes    map[types.NamespacedName]map[ObjMetadata]bool
	gkToResources map[schema.GroupKind]map[ObjMetadata]bool
}

func newResourceMap() *resourceMap {
	return &resourceMap{
		resToGroups:   map[ObjMetadata]map[types.NamespacedName]bool{},
		resToStatus:   map[ObjMetadata]*cachedStatus{},
		groupToRes:    map[types.NamespacedName]map[ObjMetadata]bool{},
		gkToResources: map[schema.GroupKind]map[ObjMetadata]bool{},
	}
}

func gkOf(res ObjMetadata) schema.GroupKind {
	return schema.GroupKind{Group: res.Group, Kind: res.Kind}
}

// reconcile records the objects of one ResourceGroup (none when deleted) and returns every GroupKind listed by any
// ResourceGroup, the kinds to watch. An object no ResourceGroup lists any more loses its cached status.
func (m *resourceMap) reconcile(group types.NamespacedName, resources []ObjMetadata, deleted bool) []schema.GroupKind {
	if deleted {
		resources = nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	newSet := map[ObjMetadata]bool{}
	for _, r := range resources {
		newSet[r] = true
	}
	oldSet := m.groupToRes[group]
	for res := range oldSet {
		if newSet[res] {
			continue
		}
		if groups, ok := m.resToGroups[res]; ok {
			delete(groups, group)
			if len(groups) == 0 {
				delete(m.resToGroups, res)
				delete(m.resToStatus, res)
				gk := gkOf(res)
				delete(m.gkToResources[gk], res)
				if len(m.gkToResources[gk]) == 0 {
					delete(m.gkToResources, gk)
				}
			}
		}
	}
	for res := range newSet {
		if oldSet[res] {
			continue
		}
		if groups, ok := m.resToGroups[res]; ok {
			groups[group] = true
			continue
		}
		m.resToGroups[res] = map[types.NamespacedName]bool{group: true}
		gk := gkOf(res)
		if m.gkToResources[gk] == nil {
			m.gkToResources[gk] = map[ObjMetadata]bool{}
		}
		m.gkToResources[gk][res] = true
	}
	if deleted && len(resources) == 0 {
		delete(m.groupToRes, group)
	} else {
		m.groupToRes[group] = newSet
	}
	gks := map[schema.GroupKind]bool{}
	for res := range m.resToGroups {
		gks[gkOf(res)] = true
	}
	out := make([]schema.GroupKind, 0, len(gks))
	for gk := range gks {
		out = append(out, gk)
	}
	return out
}

func (m *resourceMap) hasResource(res ObjMetadata) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.resToGroups[res]
	return ok
}

// groups are the ResourceGroups listing an object.
func (m *resourceMap) groups(res ObjMetadata) []types.NamespacedName {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []types.NamespacedName
	for g := range m.resToGroups[res] {
		out = append(out, g)
	}
	return out
}

func (m *resourceMap) getStatus(res ObjMetadata) *cachedStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.resToStatus[res]
}

// setStatus caches an object's status (nil forgets it).
func (m *resourceMap) setStatus(res ObjMetadata, s *cachedStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == nil {
		delete(m.resToStatus, res)
		return
	}
	m.resToStatus[res] = s
}

func (m *resourceMap) resourcesOfKind(gk schema.GroupKind) []ObjMetadata {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []ObjMetadata
	for r := range m.gkToResources[gk] {
		out = append(out, r)
	}
	return out
}
