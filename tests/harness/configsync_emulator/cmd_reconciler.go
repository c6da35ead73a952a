package main

import "configsync.test/emulator/internal/reconciler"

func init() { commands["reconciler"] = reconciler.Main }
