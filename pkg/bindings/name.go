package bindings

import "fmt"

// Where a map's name came from.
const (
	NameFromConfig   = "multipaths alias"
	NameFromBindings = "bindings file"
	NameFromWWID     = "WWID"
)

// NameRequest gathers what decides a map's name.
type NameRequest struct {
	Request
	// ConfigAlias is the [[multipaths]] alias for the WWID; it wins.
	ConfigAlias string
	// UserFriendly is user_friendly_names for the map.
	UserFriendly bool
}

// Name returns the dm name for a map: the [[multipaths]] alias, else (with
// user_friendly_names) the bound or newly allocated alias, else the WWID.
// f may be nil when no map uses user-friendly names. The name is always
// usable: when the bindings file fails, Name falls back to the WWID and
// returns the error for the log.
func (f *File) Name(r NameRequest) (name, source string, err error) {
	if r.ConfigAlias != "" {
		return r.ConfigAlias, NameFromConfig, nil
	}
	if !r.UserFriendly {
		return r.WWID, NameFromWWID, nil
	}
	if f == nil {
		return r.WWID, NameFromWWID, fmt.Errorf("bindings: no bindings file for %s", r.WWID)
	}
	alias, err := f.Alias(r.Request)
	if err != nil || alias == "" {
		return r.WWID, NameFromWWID, err
	}
	return alias, NameFromBindings, nil
}
