package dm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Path selectors are not targets: DM_LIST_VERSIONS does not list them, and
// the kernel loads their module (dm-<selector>) the first time a table
// names them. Their presence can only be seen in /sys/module.

// SelectorLoaded reports whether the module of a path selector (e.g.
// "service-time") is loaded, looking under sysRoot ("/sys" on a live
// system). false only means "not loaded yet": a table load will try to
// load it.
func SelectorLoaded(sysRoot, selector string) (bool, error) {
	if selector == "" || strings.ContainsAny(selector, "/.") {
		return false, fmt.Errorf("dm: invalid path selector name %q", selector)
	}
	mod := "dm_" + strings.ReplaceAll(selector, "-", "_")
	_, err := os.Stat(filepath.Join(sysRoot, "module", mod))
	switch {
	case err == nil:
		return true, nil
	case os.IsNotExist(err):
		return false, nil
	}
	return false, fmt.Errorf("dm: path selector %s: %w", selector, err)
}
