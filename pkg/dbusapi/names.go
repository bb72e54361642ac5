package dbusapi

import (
	"strings"

	"github.com/godbus/dbus/v5"
	"github.com/mpathd/mpathd/pkg/api"
)

// Names on the bus.
const (
	BusName         = "org.mpathd.Daemon1"
	ManagerPath     = dbus.ObjectPath("/org/mpathd/Daemon1")
	ManagerIface    = "org.mpathd.Daemon1.Manager"
	MapIface        = "org.mpathd.Daemon1.Map"
	PathIface       = "org.mpathd.Daemon1.Path"
	mapsPath        = ManagerPath + "/map"
	pathsPath       = ManagerPath + "/path"
	propertiesIface = "org.freedesktop.DBus.Properties"
	introspectIface = "org.freedesktop.DBus.Introspectable"
	objectMgrIface  = "org.freedesktop.DBus.ObjectManager"
	errorPrefix     = "org.mpathd.Daemon1.Error."
)

// MapPath is the object path of the map with this name.
func MapPath(name string) dbus.ObjectPath { return mapsPath + "/" + dbus.ObjectPath(escape(name)) }

// PathPath is the object path of the path device dev.
func PathPath(dev string) dbus.ObjectPath { return pathsPath + "/" + dbus.ObjectPath(escape(dev)) }

// escape makes s one valid object path element: letters and digits stay,
// any other byte is _XX; "" is "_".
func escape(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteString("_")
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		}
	}
	return b.String()
}

// Error names by api error code. Permission uses the standard name, which
// is also what the bus policy answers.
var errorNames = map[string]string{
	api.CodeNotFound:   errorPrefix + "NotFound",
	api.CodeInvalid:    errorPrefix + "Invalid",
	api.CodeBusy:       errorPrefix + "Busy",
	api.CodePermission: "org.freedesktop.DBus.Error.AccessDenied",
	api.CodeInternal:   errorPrefix + "Internal",
}

func dbusError(err error) *dbus.Error {
	if err == nil {
		return nil
	}
	e := api.AsError(err)
	name, ok := errorNames[e.Code]
	if !ok {
		name = errorNames[api.CodeInternal]
	}
	return dbus.NewError(name, []any{e.Message})
}
