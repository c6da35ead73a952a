package main

import "configsync.test/emulator/internal/resourcegroup"

func init() { commands["resource-group"] = resourcegroup.Main }
