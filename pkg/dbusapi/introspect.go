package dbusapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// The interface descriptions, with named arguments. A test checks them
// against the exported properties and methods.
const managerXML = `
	<interface name="org.mpathd.Daemon1.Manager">
		<method name="ListMaps"><arg name="maps" type="ao" direction="out"/></method>
		<method name="ListPaths"><arg name="paths" type="ao" direction="out"/></method>
		<method name="GetStatus"><arg name="status" type="a{sv}" direction="out"/></method>
		<method name="GetTopology"><arg name="json" type="s" direction="out"/></method>
		<method name="Reconfigure"/>
		<method name="FailPath"><arg name="dev" type="s" direction="in"/></method>
		<method name="ReinstatePath"><arg name="dev" type="s" direction="in"/></method>
		<method name="SwitchGroup"><arg name="map" type="s" direction="in"/><arg name="group" type="i" direction="in"/></method>
		<method name="ResizeMap"><arg name="map" type="s" direction="in"/></method>
		<method name="FlushMap"><arg name="map" type="s" direction="in"/></method>
		<method name="AddPath"><arg name="dev" type="s" direction="in"/></method>
		<method name="DelPath"><arg name="dev" type="s" direction="in"/></method>
		<method name="Rescan"><arg name="host" type="i" direction="in"/></method>
		<method name="GetReservation"><arg name="map" type="s" direction="in"/><arg name="status" type="s" direction="out"/><arg name="hold" type="s" direction="out"/><arg name="key" type="s" direction="out"/></method>
		<method name="SetPRStatus"><arg name="map" type="s" direction="in"/><arg name="set" type="b" direction="in"/></method>
		<method name="SetPRKey"><arg name="map" type="s" direction="in"/><arg name="key" type="s" direction="in"/></method>
		<method name="SetPRHold"><arg name="map" type="s" direction="in"/><arg name="set" type="b" direction="in"/></method>
		<signal name="PathStateChanged"><arg name="path" type="o"/><arg name="dev" type="s"/><arg name="map" type="s"/><arg name="old" type="s"/><arg name="new" type="s"/><arg name="reason" type="s"/></signal>
		<signal name="GroupSwitched"><arg name="map_path" type="o"/><arg name="map" type="s"/><arg name="old" type="i"/><arg name="new" type="i"/><arg name="reason" type="s"/></signal>
		<signal name="QueueingChanged"><arg name="map_path" type="o"/><arg name="map" type="s"/><arg name="queueing" type="b"/><arg name="reason" type="s"/></signal>
		<signal name="MapAdded"><arg name="map_path" type="o"/><arg name="map" type="s"/></signal>
		<signal name="MapRemoved"><arg name="map_path" type="o"/><arg name="map" type="s"/></signal>
		<signal name="Event"><arg name="type" type="s"/><arg name="map" type="s"/><arg name="path" type="s"/><arg name="old" type="s"/><arg name="new" type="s"/><arg name="reason" type="s"/></signal>
		<property name="Version" type="s" access="read"/>
		<property name="State" type="s" access="read"/>
		<property name="ConfigFile" type="s" access="read"/>
		<property name="MapCount" type="u" access="read"/>
		<property name="PathCount" type="u" access="read"/>
	</interface>`

const mapXML = `
	<interface name="org.mpathd.Daemon1.Map">
		<property name="Name" type="s" access="read"/>
		<property name="UUID" type="s" access="read"/>
		<property name="WWID" type="s" access="read"/>
		<property name="DM" type="s" access="read"/>
		<property name="DevT" type="s" access="read"/>
		<property name="SizeSectors" type="t" access="read"/>
		<property name="Features" type="s" access="read"/>
		<property name="HWHandler" type="s" access="read"/>
		<property name="Vendor" type="s" access="read"/>
		<property name="Product" type="s" access="read"/>
		<property name="ReadOnly" type="b" access="read"/>
		<property name="Health" type="s" access="read"/>
		<property name="QueueingMode" type="s" access="read"/>
		<property name="Queueing" type="b" access="read"/>
		<property name="Failback" type="s" access="read"/>
		<property name="ActiveGroup" type="i" access="read"/>
		<property name="Groups" type="a(isisao)" access="read"/>
		<property name="Paths" type="ao" access="read"/>
		<property name="PathCount" type="u" access="read"/>
		<property name="UsablePaths" type="u" access="read"/>
		<property name="PathFaults" type="t" access="read"/>
		<property name="GroupSwitches" type="t" access="read"/>
		<property name="TableLoads" type="t" access="read"/>
` + loadXML + `	</interface>`

const pathXML = `
	<interface name="org.mpathd.Daemon1.Path">
		<property name="Dev" type="s" access="read"/>
		<property name="DevT" type="s" access="read"/>
		<property name="HCIL" type="s" access="read"/>
		<property name="Map" type="o" access="read"/>
		<property name="MapName" type="s" access="read"/>
		<property name="Group" type="i" access="read"/>
		<property name="DMState" type="s" access="read"/>
		<property name="CheckerState" type="s" access="read"/>
		<property name="DevState" type="s" access="read"/>
		<property name="Prio" type="i" access="read"/>
		<property name="Checker" type="s" access="read"/>
		<property name="FailCount" type="t" access="read"/>
		<property name="Marginal" type="b" access="read"/>
		<property name="Weight" type="i" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
` + loadXML + `	</interface>`

const standardXML = `
	<interface name="org.freedesktop.DBus.Introspectable">
		<method name="Introspect"><arg name="xml" type="s" direction="out"/></method>
	</interface>
	<interface name="org.freedesktop.DBus.Peer">
		<method name="Ping"/>
		<method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
	</interface>
	<interface name="org.freedesktop.DBus.Properties">
		<method name="Get"><arg name="interface" type="s" direction="in"/><arg name="property" type="s" direction="in"/><arg name="value" type="v" direction="out"/></method>
		<method name="GetAll"><arg name="interface" type="s" direction="in"/><arg name="properties" type="a{sv}" direction="out"/></method>
		<method name="Set"><arg name="interface" type="s" direction="in"/><arg name="property" type="s" direction="in"/><arg name="value" type="v" direction="in"/></method>
		<signal name="PropertiesChanged"><arg name="interface" type="s"/><arg name="changed_properties" type="a{sv}"/><arg name="invalidated_properties" type="as"/></signal>
	</interface>`

const objectManagerXML = `
	<interface name="org.freedesktop.DBus.ObjectManager">
		<method name="GetManagedObjects"><arg name="objects" type="a{oa{sa{sv}}}" direction="out"/></method>
		<signal name="InterfacesAdded"><arg name="object" type="o"/><arg name="interfaces" type="a{sa{sv}}"/></signal>
		<signal name="InterfacesRemoved"><arg name="object" type="o"/><arg name="interfaces" type="as"/></signal>
	</interface>`

const docType = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
`

// introspect describes the object at p, or reports that there is none.
func (s *snapshot) introspect(p dbus.ObjectPath) (string, bool) {
	var b strings.Builder
	b.WriteString(docType)
	b.WriteString("<node>")
	switch {
	case p == ManagerPath:
		b.WriteString(managerXML + objectManagerXML + standardXML)
		b.WriteString("\n\t<node name=\"map\"/>\n\t<node name=\"path\"/>\n")
	case p == mapsPath || p == pathsPath:
		children := s.maps
		if p == pathsPath {
			children = s.paths
		}
		for _, c := range children {
			fmt.Fprintf(&b, "\n\t<node name=%q/>", string(c[len(p)+1:]))
		}
		b.WriteString("\n")
	case slices.Contains(s.maps, p):
		b.WriteString(mapXML + standardXML + "\n")
	case s.objects[p] != nil:
		b.WriteString(pathXML + standardXML + "\n")
	default:
		return "", false
	}
	b.WriteString("</node>\n")
	return b.String(), true
}

// loadXML describes the polling core's figures, which Map and Path objects both carry; they are read
// live and never announced.
const loadXML = `
		<property name="IOPS" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="ReadBytesPerSec" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="WriteBytesPerSec" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="AvgRequestBytes" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="InFlight" type="u" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="ServiceTimeMs" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
		<property name="Utilisation" type="d" access="read">
			<annotation name="org.freedesktop.DBus.Property.EmitsChangedSignal" value="false"/>
		</property>
`
