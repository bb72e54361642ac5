// Command debimage builds the Debian tier's guest image, or finds it in the cache, and prints
// where it is. make test starts it in the background, so that the build (mostly downloading and
// unpacking packages) overlaps the unit tests instead of adding to the VM suite's time.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mpathd/mpathd/tests/vm/debian"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	img, err := debian.EnsureImage(ctx, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "debimage: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("debimage: image ready in %s (%s)\n", time.Since(start).Round(time.Second), img.Dir)
}
