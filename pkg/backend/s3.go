package backend

import (
	"github.com/distribution/distribution/v3/configuration"

	"github.com/foreignlayers/fl/pkg/store"
)

// s3Parameters configure distribution's s3-aws driver (registered as
// "s3") for c: path-style addressing, which S3-compatible servers need,
// no transfer acceleration, and credentials from the AWS SDK's default
// chain (no accesskey or secretkey is given). Its keys are under
// PREFIX/registry/.
func s3Parameters(c store.S3Config) configuration.Parameters {
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	p := configuration.Parameters{
		"bucket":         c.Bucket,
		"region":         region,
		"rootdirectory":  "/" + store.NormalizePrefix(c.Prefix) + "registry",
		"forcepathstyle": true,
		"accelerate":     false,
	}
	if c.Endpoint != "" {
		p["regionendpoint"] = c.Endpoint
	}
	return p
}
