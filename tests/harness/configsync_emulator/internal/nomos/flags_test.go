package nomos

import (
	"flag"
	"reflect"
	"testing"
	"time"
)

func TestStatusFlags(t *testing.T) {
	global := flag.NewFlagSet("nomos", flag.ContinueOnError)
	global.String("kubeconfig", "", "")
	var o statusOptions
	fs := statusFlags(global, &o)
	args := []string{"--contexts=a,b", "extra", "--contexts", "c", "--resources=false", "--name=n", "--namespace", "ns", "--poll=2s", "--kubeconfig=x"}
	if _, err := parseInterspersed(fs, args, nil); err != nil {
		t.Fatal(err)
	}
	want := statusOptions{contexts: []string{"a", "b", "c"}, timeout: 15 * time.Second, poll: 2 * time.Second, namespace: "ns", name: "n"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got %+v want %+v", o, want)
	}

	var none statusOptions
	if _, err := parseInterspersed(statusFlags(global, &none), []string{`--contexts=`}, nil); err != nil {
		t.Fatal(err)
	}
	if none.contexts == nil || len(none.contexts) != 0 || !none.resources {
		t.Errorf("--contexts= : %+v", none)
	}
	var unset statusOptions
	if _, err := parseInterspersed(statusFlags(global, &unset), nil, nil); err != nil || unset.contexts != nil {
		t.Errorf("no --contexts: %+v %v", unset, err)
	}
}
