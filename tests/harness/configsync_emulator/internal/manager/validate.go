package manager

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"configsync.test/emulator/internal/core"
)

// knvError is a Config Sync status.Error: "KNV<code>: <body>\n\nFor more information, see
// https://g.co/cloud/acm-errors#knv<code>" (pkg/status/error.go).
type knvError struct {
	Code string
	Body string
}

func (e *knvError) Error() string {
	return fmt.Sprintf("KNV%s: %s\n\nFor more information, see https://g.co/cloud/acm-errors#knv%s", e.Code, e.Body, e.Code)
}

// invalidSync builds a KNV1061 error (pkg/validate/rsync/validate: invalidSyncBuilder).
func invalidSync(format string, args ...interface{}) error {
	return &knvError{Code: "1061", Body: fmt.Sprintf(format, args...)}
}

// apiServerError is status.APIServerError: KNV2002 (KNV2013 when forbidden), "<message>: <cause>".
func apiServerError(err error, message string, forbidden bool) error {
	code := "2002"
	if forbidden {
		code = "2013"
	}
	return &knvError{Code: code, Body: message + ": " + err.Error()}
}

const gcpSASuffix = ".iam.gserviceaccount.com"

func errInvalidSecretName(name, reasons string) error {
	return invalidSync("The managed secret name %q is invalid: %s. To fix it, update '.spec.git.secretRef.name'", name, reasons)
}

func errMissingSecret(name string) error {
	return invalidSync("Secret %s not found: create one to allow client authentication", name)
}

func errInvalidAuthType(auth string) error {
	return invalidSync("git authType is set to unsupported value: %q", auth)
}

func errMissingKeyInAuthSecret(auth, key, secret string) error {
	return invalidSync("git authType was set as %q but %q key is not present in %q Secret", auth, key, secret)
}

func errMissingGithubAppID(secret string) error {
	return invalidSync("git authType was set to %q but one of (%s, %s) is not present in %q Secret",
		authGithubApp, "github-app-application-id", "github-app-client-id", secret)
}

func errAmbiguousGithubAppID(secret string) error {
	return invalidSync("git authType was set to %q but more than one of (%s, %s) is present in %q Secret",
		authGithubApp, "github-app-application-id", "github-app-client-id", secret)
}

func errMissingKeyInCACertSecret(key, secret string) error {
	return invalidSync("caCertSecretRef was set, but %q key is not present in %q Secret", key, secret)
}

func errIllegalSecretRef(source, kind string) error {
	return invalidSync("%ss which specify spec.%s.auth as one of %q, %q, or %q must not specify spec.%s.secretRef",
		kind, source, authNone, authGCENode, authGCPServiceAccount, source)
}

func errMissingSecretRef(source, kind string) error {
	return invalidSync("%ss which specify spec.%s.auth as one of %q, %q, %q, or %q must also specify spec.%s.secretRef",
		kind, source, authSSH, authCookieFile, authGithubApp, authToken, source)
}

func errInvalidGCPSAEmail(source, kind string) error {
	return invalidSync("%ss which specify spec.%s.auth as %q must use suffix <gcp_serviceaccount_name>.[%s]",
		kind, source, authGCPServiceAccount, gcpSASuffix)
}

func errMissingGCPSAEmail(source, kind string) error {
	return invalidSync("%ss which specify spec.%s.auth as %q must also specify spec.%s.gcpServiceAccountEmail",
		kind, source, authGCPServiceAccount, source)
}

func errInvalidSourceType(kind string) error {
	return invalidSync("%ss must specify spec.sourceType to be one of %q, %q, %q", kind, sourceGit, sourceOci, sourceHelm)
}

func validGCPServiceAccountEmail(email string) bool {
	if !strings.Contains(email, "@") {
		return false
	}
	parts := strings.Split(email, "@")
	if len(parts) != 2 {
		return false
	}
	if len(parts[0]) < 6 || len(parts[0]) > 30 {
		return false
	}
	return strings.HasSuffix(parts[1], gcpSASuffix)
}

// validateMetadata is RootSyncMetadata/RepoSyncMetadata + ReconcilerName.
func validateMetadata(s *syncObject) error {
	if s.Kind == core.RootSyncKind {
		if s.Namespace != core.SystemNamespace {
			return invalidSync("RootSync objects are only allowed in the %s namespace, not in %s", core.SystemNamespace, s.Namespace)
		}
		if n := len(s.Name); n > maxRootSyncNameLength {
			return invalidSync("maximum length of RootSync name is %d, but found %d", maxRootSyncNameLength, n)
		}
	} else {
		if s.Namespace == core.SystemNamespace {
			return invalidSync("RepoSync objects are not allowed in the %s namespace", core.SystemNamespace)
		}
		if n := len(s.Name) + len(s.Namespace); n > maxRepoSyncNameAndNamespaceLenth {
			return invalidSync("maximum combined length of RepoSync name and namespace is %d, but found %d", maxRepoSyncNameAndNamespaceLenth, n)
		}
	}
	if value, found := s.Annotations[deletionPropagationAnno]; found && value != "Foreground" && value != "Orphan" {
		return invalidSync("%ss which specify the annotation %q must use one of the values %q or %q",
			s.Kind, deletionPropagationAnno, "Foreground", "Orphan")
	}
	name := s.reconcilerName()
	if errs := validation.IsDNS1123Subdomain(name); errs != nil {
		return invalidSync("Invalid reconciler name %q: %s", name, strings.Join(errs, ", "))
	}
	return nil
}

// validateSpec is RootSyncSpec/RepoSyncSpec (pkg/validate/rsync/validate/source_spec_validator.go).
func validateSpec(kind string, spec *syncSpec) error {
	switch spec.SourceType {
	case sourceGit:
		if err := validateGit(spec.Git, kind); err != nil {
			return err
		}
	case sourceOci:
		if err := validateOci(spec.Oci, kind); err != nil {
			return err
		}
	case sourceHelm:
		if err := validateHelm(spec.Helm, kind); err != nil {
			return err
		}
	default:
		return errInvalidSourceType(kind)
	}
	return validateOverride(kind, spec.Override)
}

func validateGit(git *gitSpec, kind string) error {
	if git == nil {
		return invalidSync("%ss must specify spec.git when spec.sourceType is %q", kind, sourceGit)
	}
	if git.Repo == "" {
		return invalidSync("%ss must specify spec.git.repo when spec.sourceType is %q", kind, sourceGit)
	}
	switch git.Auth {
	case authSSH, authCookieFile, authGCENode, authToken, authNone, authGithubApp:
	case authGCPServiceAccount:
		if git.GCPServiceAccountEmail == "" {
			return errMissingGCPSAEmail(sourceGit, kind)
		}
		if !validGCPServiceAccountEmail(git.GCPServiceAccountEmail) {
			return errInvalidGCPSAEmail(sourceGit, kind)
		}
	default:
		types := []string{authSSH, authCookieFile, authGCENode, authToken, authNone, authGCPServiceAccount, authGithubApp}
		return invalidSync("%ss must specify spec.git.auth to be one of %s", kind, strings.Join(types, ","))
	}
	if git.Proxy != "" && git.Auth != authNone && git.Auth != authCookieFile && git.Auth != authToken && git.Auth != authGithubApp {
		return invalidSync("%ss which specify spec.git.proxy must also specify spec.git.auth as one of %q, %q, %q or %q",
			kind, authNone, authCookieFile, authToken, authGithubApp)
	}
	switch git.Auth {
	case authNone, authGCENode, authGCPServiceAccount:
		if secretName(git.SecretRef) != "" {
			return errIllegalSecretRef(sourceGit, kind)
		}
	default:
		if secretName(git.SecretRef) == "" {
			return errMissingSecretRef(sourceGit, kind)
		}
	}
	return nil
}

func validateOci(oci *ociSpec, kind string) error {
	if oci == nil {
		return invalidSync("%ss must specify spec.oci when spec.sourceType is %q", kind, sourceOci)
	}
	if oci.Image == "" {
		return invalidSync("%ss must specify spec.oci.image when spec.sourceType is %q", kind, sourceOci)
	}
	switch oci.Auth {
	case authGCENode, authK8sServiceAccount, authNone:
		if secretName(oci.SecretRef) != "" {
			return errIllegalSecretRef(sourceOci, kind)
		}
	case authGCPServiceAccount:
		if secretName(oci.SecretRef) != "" {
			return errIllegalSecretRef(sourceOci, kind)
		}
		if oci.GCPServiceAccountEmail == "" {
			return errMissingGCPSAEmail(sourceOci, kind)
		}
		if !validGCPServiceAccountEmail(oci.GCPServiceAccountEmail) {
			return errInvalidGCPSAEmail(sourceOci, kind)
		}
	case authToken:
		if secretName(oci.SecretRef) == "" {
			return errMissingSecretRef(sourceOci, kind)
		}
	default:
		types := []string{authGCENode, authGCPServiceAccount, authK8sServiceAccount, authNone}
		return invalidSync("%ss must specify spec.oci.auth to be one of %s", kind, strings.Join(types, ","))
	}
	return nil
}

func validateHelm(helm *helmSpec, kind string) error {
	if helm == nil {
		return invalidSync("%ss must specify spec.helm when spec.sourceType is %q", kind, sourceHelm)
	}
	if helm.Repo == "" {
		return invalidSync("%ss must specify spec.helm.repo when spec.sourceType is %q", kind, sourceHelm)
	}
	if helm.Chart == "" {
		return invalidSync("%ss must specify spec.helm.chart when spec.sourceType is %q", kind, sourceHelm)
	}
	if strings.Contains(helm.Chart, "/") {
		return invalidSync("%s field spec.helm.chart must not contain a slash (/)", kind)
	}
	switch helm.Auth {
	case authGCENode, authK8sServiceAccount, authNone:
		if secretName(helm.SecretRef) != "" {
			return errIllegalSecretRef(sourceHelm, kind)
		}
	case authToken:
		if secretName(helm.SecretRef) == "" {
			return errMissingSecretRef(sourceHelm, kind)
		}
	case authGCPServiceAccount:
		if secretName(helm.SecretRef) != "" {
			return errIllegalSecretRef(sourceHelm, kind)
		}
		if helm.GCPServiceAccountEmail == "" {
			return errMissingGCPSAEmail(sourceHelm, kind)
		}
		if !validGCPServiceAccountEmail(helm.GCPServiceAccountEmail) {
			return errInvalidGCPSAEmail(sourceHelm, kind)
		}
	default:
		types := []string{authGCENode, authGCPServiceAccount, authK8sServiceAccount, authNone, authToken}
		return invalidSync("%ss must specify spec.helm.auth to be one of %s", kind, strings.Join(types, ","))
	}
	for _, vf := range helm.ValuesFileRefs {
		if vf.Name == "" {
			return invalidSync("%ss must specify spec.helm.valuesFileRefs.name", kind)
		}
	}
	if kind == core.RootSyncKind && helm.Namespace != "" && helm.DeployNamespace != "" {
		return invalidSync("%ss must specify only one of 'spec.helm.namespace' or 'spec.helm.deployNamespace'", kind)
	}
	return nil
}

func validateOverride(kind string, o *overrideSpec) error {
	if o == nil {
		return nil
	}
	if kind == core.RootSyncKind {
		for _, ref := range o.RoleRefs {
			if ref.Kind == "Role" && ref.Namespace == "" {
				return invalidSync("%ss must specify 'spec.override.roleRefs.namespace' for role references with kind Role", kind)
			}
		}
	}
	for _, r := range o.Resources {
		for _, q := range []struct {
			field string
			sign  int
		}{{"cpuRequest", r.CPURequest.Sign()}, {"cpuLimit", r.CPULimit.Sign()}, {"memoryRequest", r.MemoryRequest.Sign()}, {"memoryLimit", r.MemoryLimit.Sign()}} {
			if q.sign < 0 {
				return invalidSync("%s field 'spec.override.resources.%s' must not be negative", kind, q.field)
			}
		}
	}
	return nil
}

// validateSecretData is validateSecretData of validate_secret.go (git auth Secrets).
func validateSecretData(auth string, name string, data map[string][]byte) error {
	has := func(key string) bool { _, ok := data[key]; return ok }
	hasValue := func(key string) bool { v, ok := data[key]; return ok && len(v) > 0 }
	switch auth {
	case authSSH:
		if !has("ssh") {
			return errMissingKeyInAuthSecret(auth, "ssh", name)
		}
	case authCookieFile:
		if !has("cookie_file") {
			return errMissingKeyInAuthSecret(auth, "cookie_file", name)
		}
	case authToken:
		if !has("token") {
			return errMissingKeyInAuthSecret(auth, "token", name)
		}
		if !has("username") {
			return errMissingKeyInAuthSecret(auth, "username", name)
		}
	case authGithubApp:
		if !hasValue("github-app-private-key") {
			return errMissingKeyInAuthSecret(auth, "github-app-private-key", name)
		}
		if !hasValue("github-app-installation-id") {
			return errMissingKeyInAuthSecret(auth, "github-app-installation-id", name)
		}
		appID, clientID := hasValue("github-app-application-id"), hasValue("github-app-client-id")
		if !appID && !clientID {
			return errMissingGithubAppID(name)
		}
		if appID && clientID {
			return errAmbiguousGithubAppID(name)
		}
	case authNone, authGCENode:
	default:
		return errInvalidAuthType(auth)
	}
	return nil
}

// validationIsDNS1123Subdomain returns the reasons a name is not a DNS-1123 subdomain, joined, or "".
func validationIsDNS1123Subdomain(name string) string {
	return strings.Join(validation.IsDNS1123Subdomain(name), ", ")
}
