// Command mpathd is the multipath daemon: it discovers SCSI paths, groups them by WWID, checks their
// health and keeps request-based dm-multipath maps matching the truth.
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
		fmt.Println("mpathd", version.String())
		return
	}
	fmt.Fprintln(os.Stderr, "mpathd: the daemon core is not built yet; see README.md")
	os.Exit(1)
}
