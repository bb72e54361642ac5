package dm

// Kernel-side encoders, written from the layout in dm-ioctl.c, used to build
// replies for the decoders and for the fake control fd.

// kernelNameList lays out dm_name_list records the way list_devices does:
// name, then at the next 8-byte boundary event_nr and flags, then (with
// DM_UUID_FLAG) the uuid; `next` relative to the record.
func kernelNameList(devs []Device, withUUID bool) []byte {
	var out []byte
	prev := -1
	for _, d := range devs {
		off := len(out)
		if prev >= 0 {
			ne.PutUint32(out[prev+8:], uint32(off-prev))
		}
		rec := make([]byte, align8(nameListSize+len(d.Name)+1))
		ne.PutUint64(rec, d.Dev.Mkdev())
		copy(rec[nameListSize:], d.Name)
		tail := make([]byte, 8)
		ne.PutUint32(tail, d.EventNr)
		var uuid []byte
		if withUUID {
			if d.UUID != "" {
				ne.PutUint32(tail[4:], 1)
				uuid = make([]byte, align8(len(d.UUID)+1))
				copy(uuid, d.UUID)
			} else {
				ne.PutUint32(tail[4:], 2)
			}
		}
		out = append(out, rec...)
		out = append(out, tail...)
		out = append(out, uuid...)
		prev = off
	}
	return out
}

// kernelNameListNoTail lays out a LIST_DEVICES reply of DM before 4.37:
// records end with the name, no event_nr, flags or uuid.
func kernelNameListNoTail(devs []Device) []byte {
	var out []byte
	prev := -1
	for _, d := range devs {
		off := len(out)
		if prev >= 0 {
			ne.PutUint32(out[prev+8:], uint32(off-prev))
		}
		rec := make([]byte, align8(nameListSize+len(d.Name)+1))
		ne.PutUint64(rec, d.Dev.Mkdev())
		copy(rec[nameListSize:], d.Name)
		out = append(out, rec...)
		prev = off
	}
	return out
}

// kernelVersions lays out dm_target_versions records like list_versions.
func kernelVersions(vs []TargetVersion) []byte {
	var out []byte
	prev := -1
	for _, v := range vs {
		off := len(out)
		if prev >= 0 {
			ne.PutUint32(out[prev:], uint32(off-prev))
		}
		rec := make([]byte, align8(versionsSize+len(v.Name)+1))
		for i, x := range v.Version {
			ne.PutUint32(rec[4+4*i:], x)
		}
		copy(rec[versionsSize:], v.Name)
		out = append(out, rec...)
		prev = off
	}
	return out
}

// kernelStatus lays out specs like retrieve_status: `next` is the offset
// of the following spec from the start of the data area.
func kernelStatus(ts []Target) []byte {
	var out []byte
	for _, t := range ts {
		rec := make([]byte, specSize+align8(len(t.Params)+1))
		ne.PutUint64(rec, t.Start)
		ne.PutUint64(rec[8:], t.Length)
		copy(rec[24:], t.Type)
		copy(rec[specSize:], t.Params)
		out = append(out, rec...)
		ne.PutUint32(out[len(out)-len(rec)+20:], uint32(len(out)))
	}
	return out
}

func kernelDeps(devs []Dev) []byte {
	out := make([]byte, 8+8*len(devs))
	ne.PutUint32(out, uint32(len(devs)))
	for i, d := range devs {
		ne.PutUint64(out[8+8*i:], d.Mkdev())
	}
	return out
}
