package mpconf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpathd/mpathd/pkg/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*/effective.golden")

// loadCase reads a corpus case: dir/multipath.conf and dir/conf.d/*.conf.
func loadCase(dir string) (*config.Config, error) {
	return Load(filepath.Join(dir, "multipath.conf"), filepath.Join(dir, "conf.d"))
}

// probe is a device a corpus case is resolved for in its golden.
type probe struct{ wwid, vendor, product string }

// probes per case: the arrays each vendor's file is written for, a device
// no entry matches, and the WWIDs its multipaths section names.
var probes = map[string][]probe{
	"netapp-ontap":     {{"3600a098038314c4a433f5774717a3046", "NETAPP", "LUN C-Mode"}, {"", "Linux", "scsi_debug"}},
	"pure-flasharray":  {{"3624a93701c0d5cdc8ba8466b00011234", "PURE", "FlashArray"}, {"", "Linux", "scsi_debug"}},
	"dell-powerstore":  {{"368ccf09800e2b1b4c5a3c8f0c7d4e8a1", "DellEMC", "PowerStore"}, {"", "Linux", "scsi_debug"}},
	"dell-unity":       {{"36006016012345678901234567890abcd", "DGC", "VRAID"}, {"", "DGC", "LUNZ"}},
	"dell-powermax":    {{"360000970000197900123533030334545", "EMC", "SYMMETRIX"}, {"", "Linux", "scsi_debug"}},
	"hpe-3par-primera": {{"360002ac0000000000000001f00019d52", "3PARdata", "VV"}, {"", "3PARdata", "SES"}},
	"hpe-nimble":       {{"2c5f1a2b3c4d5e6f76c9ce900a1b2c3d4", "Nimble", "Server"}, {"", "Linux", "scsi_debug"}},
	"ibm-svc":          {{"36005076810810260d800000000000a1b", "IBM", "2145"}, {"", "IBM", "2076"}},
	"ibm-ds8k":         {{"36005076306ffd6b60000000000001234", "IBM", "2107900"}, {"", "Linux", "scsi_debug"}},
	"hitachi-vsp":      {{"360060e8012345600504012340000abcd", "HITACHI", "OPEN-V"}, {"", "Linux", "scsi_debug"}},
	"blacklist-except": {{"3600a098038314c4a433f5774717a3046", "NETAPP", "LUN C-Mode"}, {"", "Linux", "scsi_debug"}},
	"aliases":          {{"333333330000007d0", "Linux", "scsi_debug"}, {"333333330000007d1", "Linux", "scsi_debug"}, {"333333330000007d2", "Linux", "scsi_debug"}},
	"confd-dropins":    {{"333333330000007d0", "Linux", "scsi_debug"}, {"3624a93701c0d5cdc8ba8466b00011234", "PURE", "FlashArray"}},
	"vm-scsi-debug":    {{"333333330000007d0", "Linux", "scsi_debug"}, {"333333330000007d1", "Linux", "scsi_debug"}},
}

func TestCorpus(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	n := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "multipath.conf")); err != nil {
			continue
		}
		n++
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			c, err := loadCase(dir)
			if err != nil {
				t.Fatal(err)
			}
			ps, ok := probes[name]
			if !ok {
				t.Fatalf("no probes for %s", name)
			}
			got := effective(c, ps)
			path := filepath.Join(dir, "effective.golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
	if n < 12 {
		t.Errorf("corpus has %d cases", n)
	}
}

// effective renders what a case means: files, warnings, the layers as TOML,
// and for each probe every setting that is not built-in, with its origin.
func effective(c *config.Config, ps []probe) string {
	var b strings.Builder
	files := c.Files
	if files == nil {
		files = []string{c.File}
	}
	fmt.Fprintf(&b, "# files: %s\n", strings.Join(files, " "))
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "# warning: %s\n", w)
	}
	b.WriteString("\n")
	c.Export(&b)
	for _, p := range ps {
		r := c.Resolve(p.wwid, p.vendor, p.product, "")
		fmt.Fprintf(&b, "\n# resolved: wwid=%q vendor=%q product=%q\n", p.wwid, p.vendor, p.product)
		if r.Alias != "" {
			fmt.Fprintf(&b, "#   alias = %q\n", r.Alias)
		}
		for _, s := range r.Explain() {
			if strings.HasPrefix(s.Origin, config.OriginBuiltin) {
				continue
			}
			fmt.Fprintf(&b, "#   %s = %s  <- %s\n", s.Key, s.Value, s.Origin)
		}
		v := c.Filter(config.PathInfo{Devnode: "sdb", Vendor: p.vendor, Product: p.product, WWID: p.wwid})
		fmt.Fprintf(&b, "#   blacklist: %s\n", v)
	}
	return b.String()
}
