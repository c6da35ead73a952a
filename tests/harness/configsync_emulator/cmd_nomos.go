package main

import "configsync.test/emulator/internal/nomos"

func init() { commands["nomos"] = nomos.Main }
