package main

import "configsync.test/emulator/internal/manager"

func init() { commands["reconciler-manager"] = manager.Main }
