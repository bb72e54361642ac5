package mpconf

import "sort"

// Sections a keyword may appear in, as in multipath-tools.
type where uint8

const (
	inDefaults where = 1 << iota
	inOverrides
	inDevice
	inMultipath

	inDOV  = inDefaults | inOverrides | inDevice
	inAll  = inDOV | inMultipath
	inDefM = inDefaults | inMultipath
)

// How a keyword's value is read.
type kind uint8

const (
	kindString     kind = iota
	kindInt             // decimal integer
	kindYesNo           // yes/no, also 1/0
	kindFailback        // manual, immediate, followover or N (0: not set)
	kindRetry           // fail (also 0), queue or N
	kindTmo             // seconds, "off" (fast_io_fail_tmo) or "infinity" (dev_loss_tmo)
	kindFind            // find_multipaths: yes/on, no/off, greedy, strict, smart
	kindMarginal        // marginal_pathgroups: yes/on, no/off, fpin
	kindIgnored         // accepted by multipath-tools, not implemented by mpathd
	kindDeprecated      // accepted and ignored by multipath-tools itself
)

type spec struct {
	where where
	kind  kind
	// name is the mpathd keyword it sets, when it differs.
	name string
}

// keywords are the keywords multipath-tools accepts in defaults, overrides,
// device and multipath sections (the section keywords vendor, product,
// revision, product_blacklist, wwid and alias are handled by the builder).
// mpathd's own keywords (stats_interval, weight_update, …) are accepted too,
// as in mpathd.toml.
var keywords = map[string]spec{
	// Daemon-wide.
	"polling_interval":         {inDefaults, kindInt, ""},
	"max_polling_interval":     {inDefaults, kindInt, ""},
	"find_multipaths":          {inDefaults, kindFind, ""},
	"queue_without_daemon":     {inDefaults, kindYesNo, ""},
	"checker_timeout":          {inDefaults, kindInt, ""},
	"marginal_pathgroups":      {inDefaults, kindMarginal, ""},
	"verbosity":                {inDefaults, kindIgnored, ""},
	"reassign_maps":            {inDefaults, kindIgnored, ""},
	"uid_attrs":                {inDefaults, kindIgnored, ""},
	"max_fds":                  {inDefaults, kindIgnored, ""},
	"allow_usb_devices":        {inDefaults, kindIgnored, ""},
	"log_checker_err":          {inDefaults, kindIgnored, ""},
	"strict_timing":            {inDefaults, kindIgnored, ""},
	"force_sync":               {inDefaults, kindIgnored, ""},
	"find_multipaths_timeout":  {inDefaults, kindIgnored, ""},
	"uxsock_timeout":           {inDefaults, kindIgnored, ""},
	"retrigger_tries":          {inDefaults, kindIgnored, ""},
	"retrigger_delay":          {inDefaults, kindIgnored, ""},
	"missing_uev_wait_timeout": {inDefaults, kindIgnored, ""},
	"remove_retries":           {inDefaults, kindIgnored, ""},
	"enable_foreign":           {inDefaults, kindIgnored, ""},
	"auto_resize":              {inDefaults, kindIgnored, ""},
	"purge_disconnected":       {inDefaults, kindIgnored, ""},
	"multipath_dir":            {inDefaults, kindDeprecated, ""},
	"getuid_callout":           {inDefaults | inDevice, kindDeprecated, ""},
	"bindings_file":            {inDefaults, kindDeprecated, ""},
	"wwids_file":               {inDefaults, kindDeprecated, ""},
	"prkeys_file":              {inDefaults, kindDeprecated, ""},
	"config_dir":               {inDefaults, kindDeprecated, ""},
	"disable_changed_wwids":    {inDefaults, kindDeprecated, ""},
	"hw_str_match":             {inDefaults, kindDeprecated, ""},

	// Per device type.
	"path_checker":               {inDOV, kindString, ""},
	"checker":                    {inDOV, kindString, "path_checker"},
	"alias_prefix":               {inDOV, kindString, ""},
	"fast_io_fail_tmo":           {inDOV, kindTmo, ""},
	"dev_loss_tmo":               {inDOV, kindTmo, ""},
	"retain_attached_hw_handler": {inDOV, kindYesNo, ""},
	"detect_prio":                {inDOV, kindYesNo, ""},
	"detect_checker":             {inDOV, kindYesNo, ""},
	"detect_pgpolicy":            {inDOV, kindYesNo, ""},
	"detect_pgpolicy_use_tpg":    {inDOV, kindYesNo, ""},
	"hardware_handler":           {inDevice, kindString, ""},
	"uid_attribute":              {inDOV, kindString, ""},
	"eh_deadline":                {inDOV, kindTmo, ""},
	"max_retries":                {inDOV, kindIgnored, ""},
	"recheck_wwid":               {inDOV, kindIgnored, ""},
	"vpd_vendor":                 {inDevice, kindIgnored, ""},

	// Per map.
	"path_selector":                      {inAll, kindString, ""},
	"path_grouping_policy":               {inAll, kindString, ""},
	"prio":                               {inAll, kindString, ""},
	"prio_args":                          {inAll, kindString, ""},
	"features":                           {inAll, kindString, ""},
	"failback":                           {inAll, kindFailback, ""},
	"rr_weight":                          {inAll, kindString, ""},
	"no_path_retry":                      {inAll, kindRetry, ""},
	"rr_min_io":                          {inAll, kindInt, ""},
	"rr_min_io_rq":                       {inAll, kindInt, ""},
	"flush_on_last_del":                  {inAll, kindString, ""},
	"user_friendly_names":                {inAll, kindYesNo, ""},
	"deferred_remove":                    {inAll, kindYesNo, ""},
	"max_sectors_kb":                     {inAll, kindInt, ""},
	"san_path_err_threshold":             {inAll, kindInt, ""},
	"san_path_err_forget_rate":           {inAll, kindInt, ""},
	"san_path_err_recovery_time":         {inAll, kindInt, ""},
	"marginal_path_err_sample_time":      {inAll, kindInt, ""},
	"marginal_path_err_rate_threshold":   {inAll, kindInt, ""},
	"marginal_path_err_recheck_gap_time": {inAll, kindInt, ""},
	"marginal_path_double_failed_time":   {inAll, kindInt, ""},
	"queue_mode":                         {inAll, kindString, ""},
	"delay_watch_checks":                 {inAll, kindIgnored, ""},
	"delay_wait_checks":                  {inAll, kindIgnored, ""},
	"skip_kpartx":                        {inAll, kindYesNo, ""},
	"ghost_delay":                        {inAll, kindIgnored, ""},
	"all_tg_pt":                          {inAll, kindYesNo, ""},
	"reservation_key":                    {inDefM, kindString, ""},
	"mode":                               {inDefM, kindIgnored, ""},
	"uid":                                {inDefM, kindIgnored, ""},
	"gid":                                {inDefM, kindIgnored, ""},
	"partition_delimiter":                {inDefaults, kindString, ""},
	"pg_timeout":                         {inAll, kindDeprecated, ""},
}

func (w where) String() string {
	switch w {
	case inDefaults:
		return "defaults"
	case inOverrides:
		return "overrides"
	case inDevice:
		return "device"
	case inMultipath:
		return "multipath"
	}
	return "?"
}

// statements are the statements of the entry and filter sections, by
// section, as the builder accepts them: a statement the builder handles must
// be listed here.
var statements = map[string][]string{
	"device":           {"vendor", "product", "revision", "product_blacklist"},
	"multipath":        {"wwid", "alias"},
	"protocol":         {"type", "fast_io_fail_tmo", "dev_loss_tmo", "eh_deadline"},
	"blacklist":        {"devnode", "wwid", "property", "protocol", "device"},
	"blacklist device": {"vendor", "product"},
}

func listed(section, key string) bool {
	for _, k := range statements[section] {
		if k == key {
			return true
		}
	}
	return false
}

// Statements returns the statements of the device, multipath, protocol
// (in overrides), blacklist (also blacklist_exceptions) and blacklist device
// sections ("blacklist device" is the device section of both filters).
func Statements() map[string][]string {
	out := make(map[string][]string, len(statements))
	for k, v := range statements {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Keyword describes how mpathd takes one multipath.conf keyword of the
// defaults, overrides, device and multipath sections.
type Keyword struct {
	Name string
	// Sections are the sections multipath-tools accepts it in
	// (config.Section* names).
	Sections []string
	// Sets is the mpathd keyword it sets; "" when it is ignored.
	Sets string
	// Ignored says why it is ignored, with a warning: "not implemented"
	// (by mpathd) or "deprecated" (multipath-tools ignores it too).
	Ignored string
}

// Keywords lists the keywords of multipath-tools that mpathd reads, sorted
// by name. mpathd's own keywords (config.Keywords) are accepted too.
func Keywords() []Keyword {
	var out []Keyword
	for name, sp := range keywords {
		k := Keyword{Name: name, Sets: name}
		if sp.name != "" {
			k.Sets = sp.name
		}
		switch sp.kind {
		case kindIgnored:
			k.Sets, k.Ignored = "", "not implemented"
		case kindDeprecated:
			k.Sets, k.Ignored = "", "deprecated"
		}
		for _, w := range []where{inDefaults, inOverrides, inDevice, inMultipath} {
			if sp.where&w != 0 {
				k.Sections = append(k.Sections, sectionName[w])
			}
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
