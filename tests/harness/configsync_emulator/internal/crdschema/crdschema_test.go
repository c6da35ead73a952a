package crdschema

import (
	"strings"
	"testing"
)

func TestTheCheckerFindsWhatTheServerWouldPruneOrRefuse(t *testing.T) {
	schema, err := Load("rootsync-crd.yaml", "v1beta1")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]interface{}{
		"observedGeneration": float64(1),
		"notAField":          "x",
		"source":             map[string]interface{}{"commit": float64(3), "errorSummary": map[string]interface{}{"totalCount": 1.5}},
		"conditions":         []interface{}{map[string]interface{}{"type": "Syncing"}},
	}
	problems := strings.Join(Validate(schema.At("status"), status), "\n")
	for _, want := range []string{
		"notAField: unknown field",
		"source.commit: float64 where the schema wants a string",
		"source.errorSummary.totalCount: 1.5 is not an integer",
		`conditions[0]: required field "status" is missing`,
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("missing %q in:\n%s", want, problems)
		}
	}
}
