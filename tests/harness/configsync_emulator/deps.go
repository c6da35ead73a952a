package main

// The libraries Config Sync v1.24.3 builds on (its go.mod), pinned here at the same versions so the emulator pulls,
// authenticates, applies and computes status with the same code paths.
import (
	_ "cloud.google.com/go/auth/credentials"
	_ "cloud.google.com/go/compute/metadata"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "golang.org/x/oauth2/google"
	_ "k8s.io/client-go/dynamic"
	_ "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	_ "sigs.k8s.io/yaml"
)
