package backend

// The storage drivers the embedded registry can use. distribution registers
// drivers from their packages' init functions; this file is the one place
// that decides which are linked in.
import (
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)
