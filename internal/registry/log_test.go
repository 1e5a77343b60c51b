package registry_test

import (
	"errors"
	"io"
	"log"
)

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
