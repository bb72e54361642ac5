package config

import (
	"path/filepath"

	"github.com/mpathd/mpathd/pkg/prkeys"
)

// PRKeySource says where a map's persistent reservation key comes from.
type PRKeySource string

// Sources of a reservation key.
const (
	PRKeyNone   PRKeySource = ""     // no reservation_key
	PRKeyConfig PRKeySource = "conf" // the key written in the configuration
	PRKeyFile   PRKeySource = "file" // the prkeys file, per WWID (set by mpathpersist)
)

// ReservationKey is a reservation_key value: "file", or a 0x-hex key with an
// optional ":aptpl", as in multipath-tools.
type ReservationKey struct {
	Source PRKeySource
	Key    uint64 // PRKeyConfig only; 0 means no key
	APTPL  bool
}

func (k ReservationKey) String() string {
	switch k.Source {
	case PRKeyFile:
		return "file"
	case PRKeyConfig:
		return prkeys.Key{Key: k.Key, APTPL: k.APTPL}.String()
	}
	return ""
}

func parseReservationKey(v any) (ReservationKey, error) {
	s, err := wantString(v)
	if err != nil {
		return ReservationKey{}, err
	}
	if s == "file" {
		return ReservationKey{Source: PRKeyFile}, nil
	}
	k, err := prkeys.ParseKeyFlags(s)
	if err != nil {
		return ReservationKey{}, errf("%q is not \"file\" nor a key of 1 to 16 hex digits (0x optional) with an optional \":aptpl\"", s)
	}
	return ReservationKey{Source: PRKeyConfig, Key: k.Key, APTPL: k.APTPL}, nil
}

func reservationKeyStr(k ReservationKey) (string, bool) {
	return tomlQuote(k.String()), k.Source != PRKeyNone
}

func parseAbsPath(v any) (string, error) {
	s, err := wantString(v)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(s) {
		return "", errf("%q is not an absolute path", s)
	}
	return filepath.Clean(s), nil
}
