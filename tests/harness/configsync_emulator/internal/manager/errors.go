package manager

import (
	"errors"
	"fmt"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// objectID names a managed object in error messages: "<Kind> (<namespace>/<name>)" (core.ID with ObjectKey).
type objectID struct {
	Kind      string
	Namespace string
	Name      string
}

func (id objectID) key() string {
	return id.Namespace + "/" + id.Name
}

// operationError is ObjectOperationError: an API call on a managed object failed; setup/teardown is stalled.
type operationError struct {
	ID        objectID
	Operation string
	Cause     error
}

func (e *operationError) Error() string {
	return fmt.Sprintf("%s (%s) %s failed: %v", e.ID.Kind, e.ID.key(), e.Operation, e.Cause)
}

func (e *operationError) Unwrap() error { return e.Cause }

// reconcileError is ObjectReconcileError: a managed object is not (yet) Current.
type reconcileError struct {
	ID     objectID
	Status kstatus.Status
	Cause  error
}

func (e *reconcileError) Error() string {
	return fmt.Sprintf("%s (%s) %s: %v", e.ID.Kind, e.ID.key(), e.Status, e.Cause)
}

func (e *reconcileError) Unwrap() error { return e.Cause }

// noRetryError is NoRetryError: wait for the next watch event instead of retrying at once.
type noRetryError struct {
	Cause error
}

func (e *noRetryError) Error() string { return fmt.Sprintf("no retry: %v", e.Cause) }

func (e *noRetryError) Unwrap() error { return e.Cause }

func isNoRetry(err error) bool {
	var nre *noRetryError
	return errors.As(err, &nre)
}
