package main

import (
	"context"
	"fmt"

	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/config/mpconf"
)

// runImport writes a multipath.conf as the equivalent mpathd.toml. Without
// FILE it reads /etc/multipath.conf and /etc/multipath/conf.d, as mpathd
// does when it has no mpathd.toml. What mpathd does not implement is listed
// at the top as comments, so nothing is dropped unseen.
func runImport(ctx context.Context, e *env, p map[string]string) error {
	file, dir := p["FILE"], ""
	if file == "" || file == config.MultipathConfPath {
		file, dir = config.MultipathConfPath, config.MultipathConfDir
	}
	c, err := mpconf.Load(file, dir)
	if err != nil {
		fmt.Fprintln(e.errOut, err)
		return fmt.Errorf("%s cannot be imported", file)
	}
	files := c.Files
	if files == nil {
		files = []string{c.File}
	}
	fmt.Fprintln(e.out, "# mpathd.toml imported from multipath.conf syntax:")
	for _, f := range files {
		fmt.Fprintf(e.out, "#   %s\n", f)
	}
	if len(c.Warnings) > 0 {
		fmt.Fprintln(e.out, "# Not carried over (see mpathctl config check):")
		for _, w := range c.Warnings {
			fmt.Fprintf(e.out, "#   %s\n", w)
		}
	}
	fmt.Fprintln(e.out)
	return c.Export(e.out)
}
