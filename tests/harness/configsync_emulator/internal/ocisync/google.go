package ocisync

import (
	"context"
	"fmt"
	"sync"
	"time"

	goauth "cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"k8s.io/klog/v2"
)

// ociSourceScopes are the scopes of the Google token oci-sync asks for (pkg/auth OCISourceScopes).
var ociSourceScopes = []string{"https://www.googleapis.com/auth/cloud-platform"}

// googleAuthenticator gives go-containerregistry basic credentials "_token" / <Google access token>, the token
// coming from Application Default Credentials (cloud.google.com/go/auth credentials.DetectDefault: the
// GOOGLE_APPLICATION_CREDENTIALS file, e.g. fleet Workload Identity's external_account, else the metadata server
// at GCE_METADATA_HOST). Detected credentials are kept once found; detection is retried after a failure
// (pkg/auth CachingCredentialProvider + pkg/oci CredentialAuthenticator).
type googleAuthenticator struct {
	mu     sync.Mutex
	tokens goauth.TokenProvider
	expiry time.Time
}

var _ authn.Authenticator = &googleAuthenticator{}

func (a *googleAuthenticator) provider() (goauth.TokenProvider, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tokens != nil {
		return a.tokens, nil
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{
		Scopes:              ociSourceScopes,
		DisableAsyncRefresh: true,
	})
	if err != nil {
		return nil, fmt.Errorf("detecting credentials: %w", err)
	}
	a.tokens = creds
	return a.tokens, nil
}

// Authorization implements authn.Authenticator. Like the real one it has no context of its own.
func (a *googleAuthenticator) Authorization() (*authn.AuthConfig, error) {
	tokens, err := a.provider()
	if err != nil {
		return nil, err
	}
	token, err := tokens.Token(context.TODO())
	if err != nil {
		return nil, fmt.Errorf("fetching auth token: %w", err)
	}
	a.logNewToken(token)
	// The username go-containerregistry's own Google keychain uses.
	return &authn.AuthConfig{Username: "_token", Password: token.Value}, nil
}

// logNewToken logs each token refresh once (pkg/auth LoggingTokenProvider).
func (a *googleAuthenticator) logNewToken(token *goauth.Token) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.expiry.Equal(token.Expiry) {
		return
	}
	a.expiry = token.Expiry
	klog.Infof("fetched new auth token (type: %s, expiration: %v)", token.Type, token.Expiry)
}
