package nomos

import (
	"encoding/json"
	"time"
)

// The fields of the objects nomos status reads, decoded from their JSON as Config Sync's typed clients decode them
// (pkg/api/configsync/v1beta1, pkg/api/kpt.dev/v1alpha1). Only what the status text needs is kept.

// metaTime decodes like metav1.Time: RFC 3339, converted to the local time zone; null or "" is the zero time.
type metaTime struct{ time.Time }

func (t *metaTime) UnmarshalJSON(b []byte) error {
	if len(b) == 4 && string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	t.Time = parsed.Local()
	return nil
}

// String prints the time as `%v` of a metav1.Time does (time.Time.String).
func (t metaTime) String() string { return t.Time.String() }

type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type gitSpec struct {
	Repo     string `json:"repo"`
	Branch   string `json:"branch,omitempty"`
	Revision string `json:"revision,omitempty"`
	Dir      string `json:"dir,omitempty"`
}

type ociSpec struct {
	Image string `json:"image,omitempty"`
	Dir   string `json:"dir,omitempty"`
}

// helmSpec is HelmBase's repo/chart/version (HelmRootSync and HelmRepoSync inline it).
type helmSpec struct {
	Repo    string `json:"repo,omitempty"`
	Chart   string `json:"chart,omitempty"`
	Version string `json:"version,omitempty"`
}

type syncSpec struct {
	SourceType string    `json:"sourceType,omitempty"`
	Git        *gitSpec  `json:"git,omitempty"`
	Oci        *ociSpec  `json:"oci,omitempty"`
	Helm       *helmSpec `json:"helm,omitempty"`
}

type errorSummary struct {
	TotalCount                int  `json:"totalCount,omitempty"`
	Truncated                 bool `json:"truncated,omitempty"`
	ErrorCountAfterTruncation int  `json:"errorCountAfterTruncation,omitempty"`
}

type configSyncError struct {
	Code         string `json:"code"`
	ErrorMessage string `json:"errorMessage"`
}

type syncCondition struct {
	Type            string            `json:"type"`
	Status          string            `json:"status"`
	Reason          string            `json:"reason,omitempty"`
	Message         string            `json:"message,omitempty"`
	Commit          string            `json:"commit,omitempty"`
	Errors          []configSyncError `json:"errors,omitempty"`
	ErrorSourceRefs []string          `json:"errorSourceRefs,omitempty"`
	ErrorSummary    *errorSummary     `json:"errorSummary,omitempty"`
}

type stageStatus struct {
	Commit     string            `json:"commit,omitempty"`
	LastUpdate metaTime          `json:"lastUpdate,omitempty"`
	Errors     []configSyncError `json:"errors,omitempty"`
}

type syncStatus struct {
	Conditions []syncCondition `json:"conditions,omitempty"`
	Source     stageStatus     `json:"source,omitempty"`
	Rendering  stageStatus     `json:"rendering,omitempty"`
	Sync       stageStatus     `json:"sync,omitempty"`
}

// syncObject is a RootSync or a RepoSync (the kind says which).
type syncObject struct {
	Kind     string     `json:"kind"`
	Metadata objectMeta `json:"metadata"`
	Spec     syncSpec   `json:"spec"`
	Status   syncStatus `json:"status"`
}

type rgCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

type resourceStatus struct {
	Group      string        `json:"group"`
	Kind       string        `json:"kind"`
	Namespace  string        `json:"namespace"`
	Name       string        `json:"name"`
	Status     string        `json:"status"`
	SourceHash string        `json:"sourceHash,omitempty"`
	Conditions []rgCondition `json:"conditions,omitempty"`
}

type resourceGroup struct {
	Metadata objectMeta `json:"metadata"`
	Status   struct {
		ResourceStatuses []resourceStatus `json:"resourceStatuses,omitempty"`
	} `json:"status"`
}

// decodeJSON turns an object's JSON (or a list's item) into one of the types above.
func decodeJSON(data []byte, into any) error { return json.Unmarshal(data, into) }
