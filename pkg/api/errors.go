package api

import (
	"errors"
	"fmt"
)

// Error codes. Clients map them: mpathctl to messages and exit status 1,
// D-Bus to org.mpathd.Daemon1.Error.<Code> names.
const (
	CodeNotFound   = "not_found"  // no such map, path or host
	CodeInvalid    = "invalid"    // a malformed request or argument
	CodeBusy       = "busy"       // the map is in use or an operation is already running
	CodePermission = "permission" // the caller may not do this
	CodeInternal   = "internal"   // anything else
)

// Error is a typed failure the daemon reports to a client.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError converts any error to an *Error: an *Error anywhere in the chain
// keeps its code (with the full message of err), anything else becomes
// "internal".
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Error() == err.Error() {
			return e
		}
		return &Error{Code: e.Code, Message: err.Error()}
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// IsCode reports whether err carries an *Error with this code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
