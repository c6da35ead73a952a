// Command configsync-emulator stands in for Config Sync v1.24.3's binaries in tests: one program whose first
// argument (or the name it is called by) picks the part it plays, each taking the real binary's flags and
// environment, so the harness runs it exactly where it would run the real one.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

type command func(args []string) int

var commands = map[string]command{}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if _, ok := commands[name]; !ok {
		if len(args) == 0 {
			usage()
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	run, ok := commands[name]
	if !ok {
		usage()
		os.Exit(2)
	}
	os.Exit(run(args))
}

func usage() {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: configsync-emulator COMMAND [ARGS...]\ncommands: %v\n", names)
}
