// Command mpathctl inspects and controls a running mpathd.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mpathd/mpathd/internal/version"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("mpathctl", version.String())
		return
	}
	fmt.Fprintln(os.Stderr, "usage: mpathctl --version (commands arrive with the control socket)")
	os.Exit(2)
}
