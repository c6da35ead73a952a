package manager

import (
	"k8s.io/klog/v2"
)

// logger writes klog lines to stderr with the structured keys of the real manager's controller logs
// (logger="controllers.RootSync" sync.kind=... sync=... reconciler=...), one line per action.
type logger struct {
	kv []interface{}
}

func newLogger(kv ...interface{}) logger {
	return logger{kv: kv}
}

func (l logger) with(kv ...interface{}) logger {
	out := make([]interface{}, 0, len(l.kv)+len(kv))
	out = append(out, l.kv...)
	return logger{kv: append(out, kv...)}
}

func (l logger) info(msg string, kv ...interface{}) {
	klog.InfoSDepth(1, msg, append(append([]interface{}{}, l.kv...), kv...)...)
}

func (l logger) v(level klog.Level, msg string, kv ...interface{}) {
	if klog.V(level).Enabled() {
		klog.InfoSDepth(1, msg, append(append([]interface{}{}, l.kv...), kv...)...)
	}
}

func (l logger) error(err error, msg string, kv ...interface{}) {
	klog.ErrorSDepth(1, err, msg, append(append([]interface{}{}, l.kv...), kv...)...)
}
