package main

import "configsync.test/emulator/internal/ocisync"

func init() { commands["oci-sync"] = ocisync.Main }
