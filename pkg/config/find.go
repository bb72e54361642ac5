package config

// Candidate describes a WWID whose paths passed the blacklist.
type Candidate struct {
	Paths       int  // number of non-blacklisted paths with this WWID
	InWWIDsFile bool // listed in /etc/multipath/wwids
	MapExists   bool // a dm map with uuid mpath-<WWID> already exists
}

// Decision is the find_multipaths verdict for one WWID.
type Decision struct {
	Multipath bool
	// Remember is true when the WWID should be added to the wwids file once
	// its map is created, so it stays multipathed with a single path later.
	Remember bool
	Reason   string
}

// ShouldMultipath decides whether a WWID becomes a map. An existing map is
// always kept (adopted). Otherwise, per mode:
//   - greedy, off: every non-blacklisted WWID (multipathd treats off as
//     greedy);
//   - strict: only WWIDs in the wwids file;
//   - on: WWIDs in the wwids file, or with two or more paths.
func ShouldMultipath(mode FindMultipaths, c Candidate) Decision {
	remember := !c.InWWIDsFile
	switch {
	case c.Paths <= 0 && !c.MapExists:
		return Decision{Reason: "no usable path"}
	case c.MapExists:
		return Decision{Multipath: true, Remember: remember, Reason: "a map with this WWID exists"}
	case c.InWWIDsFile && mode != FindGreedy && mode != FindOff:
		return Decision{Multipath: true, Reason: "listed in the wwids file"}
	}
	switch mode {
	case FindGreedy, FindOff:
		return Decision{Multipath: true, Remember: remember, Reason: "find_multipaths " + string(mode) + ": every non-blacklisted device"}
	case FindOn:
		if c.Paths >= 2 {
			return Decision{Multipath: true, Remember: remember, Reason: "find_multipaths on: two or more paths"}
		}
		return Decision{Reason: "find_multipaths on: a single path, not in the wwids file"}
	}
	return Decision{Reason: "find_multipaths " + string(mode) + ": not in the wwids file"}
}
