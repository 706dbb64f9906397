package commands

import (
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/foreignlayers/fl/pkg/front"
	"github.com/foreignlayers/fl/pkg/policy"
	"github.com/foreignlayers/fl/pkg/server"
	"github.com/foreignlayers/fl/pkg/store"
)

type serveOptions struct {
	config          string
	addr            string
	dataDir         string
	upstream        string
	foreign         string
	allowURL        []string
	denyURL         []string
	allowHTTP       bool
	allowPrivate    bool
	allowNetworks   []string
	maxManifest     int64
	maxBlob         byteSize
	cacheMax        byteSize
	cacheMinFree    byteSize
	maxFetches      int
	fetchWait       time.Duration
	fetchTimeout    time.Duration
	fetchGrace      time.Duration
	fetchIdle       time.Duration
	failureTTL      time.Duration
	htpasswd        string
	authPulls       bool
	tlsCert, tlsKey string
	metricsAddr     string
	stripPrefix     string
	shutdownTimeout time.Duration
	proxy           string
	useEnvProxy     bool
	accessLog       bool
	s3              store.S3Config
	secretFile      string
	coordination    string
}

func newServe(g *globals) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run a registry front that makes foreign layers pullable by every client",
		Long: `Run a registry that serves images with foreign layers to every client,
Docker on Linux included.

By default fl serve embeds a registry (distribution v3, filesystem storage
under --data-dir): push to it, pull from it, nothing else to install. With
--upstream it fronts an existing registry instead.

For a blob the front knows as a foreign layer of the repository, --foreign
decides: cache (default) fetches it once from its URLs, verifies it, caches
it and serves it; redirect answers 307 to the first allowed URL; off serves
as a plain registry. Every URL must pass the URL policy, at manifest PUT
and again at fetch time.`,
		Example: `  fl serve
  fl serve --addr 0.0.0.0:5000 --data-dir /var/lib/fl --allow-url '^https://cdimage\.ubuntu\.com/'
  fl serve --upstream https://registry.internal --foreign redirect
  fl serve --config /etc/fl/serve.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli := changedFlags(cmd)
			if o.config != "" {
				if err := applyConfigFile(cmd, o.config); err != nil {
					return err
				}
			}
			return o.run(cmd, g, cli)
		},
	}
	o.flags(cmd)
	return cmd
}

func (o *serveOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "YAML file that sets any of these flags (docs/CONFIGURATION.md)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:5000", "address to listen on")
	f.StringVar(&o.dataDir, "data-dir", "./fl-data", "where the embedded registry, the foreign-layer index and the cache live")
	f.StringVar(&o.upstream, "upstream", "", "front this registry (http(s)://HOST[:PORT]) instead of the embedded one")
	f.StringVar(&o.foreign, "foreign", "cache", "what to do with foreign layer requests: cache, redirect or off")
	f.StringArrayVar(&o.allowURL, "allow-url", nil, "regular expression a layer URL must match (repeatable; any of them)")
	f.StringArrayVar(&o.denyURL, "deny-url", nil, "regular expression a layer URL must not match (repeatable)")
	f.BoolVar(&o.allowHTTP, "allow-http", false, "allow plain http layer URLs")
	f.BoolVar(&o.allowPrivate, "allow-private-networks", false, "allow layer URLs on loopback, private, link-local and other non-public addresses")
	f.StringArrayVar(&o.allowNetworks, "allow-network", nil, "allow layer URLs on this private network, as a CIDR (repeatable)")
	f.Int64Var(&o.maxManifest, "max-manifest-size", 4<<20, "largest manifest accepted, in bytes")
	o.maxBlob, o.cacheMax, o.cacheMinFree = 16<<30, 20<<30, 1<<30
	f.Var(&o.maxBlob, "max-blob-size", "largest size a layer with urls may declare (checked at manifest PUT)")
	f.Var(&o.cacheMax, "cache-max-size", "most bytes the foreign-layer cache keeps; least recently used layers are evicted once a fetch verifies")
	f.Var(&o.cacheMinFree, "cache-min-free", "free disk space the cache never takes")
	f.IntVar(&o.maxFetches, "max-fetches", 16, "most foreign layers fetched from upstream at once")
	f.DurationVar(&o.fetchWait, "fetch-wait", 10*time.Second, "how long a request waits for a fetch slot when --max-fetches are in flight, before 429")
	f.DurationVar(&o.fetchTimeout, "fetch-timeout", time.Hour, "longest one foreign layer fetch may take")
	f.DurationVar(&o.fetchGrace, "fetch-grace", 10*time.Second, "how long a fetch goes on after its last client left, before it is cancelled")
	f.DurationVar(&o.fetchIdle, "fetch-idle-timeout", 30*time.Second, "how long a layer URL may send nothing before fl serve tries the next URL")
	f.DurationVar(&o.failureTTL, "fetch-failure-ttl", 30*time.Second, "how long a failed fetch is remembered and answered again without contacting the URLs")
	f.StringVar(&o.htpasswd, "htpasswd", "", "htpasswd file (bcrypt): pushes require these credentials")
	f.BoolVar(&o.authPulls, "auth-pulls", false, "with --htpasswd, require credentials for pulls too")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS key file")
	f.StringVar(&o.stripPrefix, "strip-urls-prefix", "", "serve PREFIX/R as a read-only view of every repository R whose manifests have no layer urls (for containerd, podman, skopeo)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics and /healthz on this address of their own, without auth")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for responses in flight")
	f.StringVar(&o.proxy, "proxy", "", "fetch layer URLs through this egress proxy (http(s)://HOST:PORT); fl checks each host's addresses before asking it")
	f.BoolVar(&o.useEnvProxy, "use-env-proxy", false, "fetch layer URLs through the proxy HTTPS_PROXY, HTTP_PROXY and NO_PROXY name")
	f.BoolVar(&o.accessLog, "access-log", false, "log one line per request (route, repository, status, bytes, duration, user) at info")
	f.StringVar(&o.s3.Bucket, "s3-bucket", "", "keep the registry's storage, the index and the cache in this S3 bucket, shared by replicas (docs/SCALE.md); credentials from the AWS environment and config chain")
	f.StringVar(&o.s3.Endpoint, "s3-endpoint", "", "URL of an S3-compatible server (path-style addressing); empty for AWS")
	f.StringVar(&o.s3.Prefix, "s3-prefix", "", "key prefix of everything fl keeps in --s3-bucket")
	f.StringVar(&o.s3.Region, "s3-region", "", "region of --s3-bucket (default: the AWS chain's, or us-east-1)")
	f.StringVar(&o.secretFile, "secret-file", "", "file holding the secret that signs uploads in progress, the same for every replica (default: random per process)")
	f.StringVar(&o.coordination, "coordination", server.CoordinationS3, "with --s3-bucket, how replicas share fetches: none (each replica fetches a layer once); s3 (one fetch across replicas) is not built yet")
}

func (o *serveOptions) policy() (*policy.Policy, error) {
	return policy.New(o.allowURL, o.denyURL, o.allowHTTP, o.allowPrivate, o.allowNetworks)
}

func (o *serveOptions) run(cmd *cobra.Command, g *globals, cli map[string][]string) error {
	mode, err := front.ParseMode(o.foreign)
	if err != nil {
		return err
	}
	pol, err := o.policy()
	if err != nil {
		return err
	}
	var accessLog *slog.Logger
	if o.accessLog {
		accessLog = g.logger.With("log", "access")
	}
	ctx := cmd.Context()
	s, err := server.Start(ctx, server.Config{
		Addr: o.addr, DataDir: o.dataDir, Upstream: o.upstream, Mode: mode, Policy: pol,
		MaxManifestBytes: o.maxManifest, MaxBlobSize: int64(o.maxBlob), CacheMaxSize: int64(o.cacheMax), CacheMinFree: int64(o.cacheMinFree),
		MaxFetches: o.maxFetches, FetchWait: o.fetchWait, FetchTimeout: o.fetchTimeout,
		FetchGrace: o.fetchGrace, FetchIdleTimeout: o.fetchIdle, FailureTTL: o.failureTTL,
		Htpasswd: o.htpasswd, AuthPulls: o.authPulls, TLSCert: o.tlsCert, TLSKey: o.tlsKey, MetricsAddr: o.metricsAddr, StripURLsPrefix: o.stripPrefix,
		ShutdownTimeout: o.shutdownTimeout, Logger: g.logger,
		Proxy: o.proxy, UseEnvProxy: o.useEnvProxy, AccessLog: accessLog,
		S3: o.s3, SecretFile: o.secretFile, Coordination: o.coordination,
	})
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	for {
		select {
		case err := <-done:
			return err
		case <-hup:
			if err := o.reload(cmd, g, s, cli); err != nil {
				g.logger.Error("SIGHUP: reload failed; the previous settings stay", "err", err)
				continue
			}
			g.logger.Info("SIGHUP: reloaded the URL policy and the htpasswd file", "config", o.config, "htpasswd", o.htpasswd)
		}
	}
}

// reloadable are the settings SIGHUP puts in force.
var reloadable = map[string]bool{
	"allow-url": true, "deny-url": true, "allow-http": true, "allow-private-networks": true, "allow-network": true,
	"htpasswd": true, "config": true,
}

// reload reads the settings again as at start (the command line, then the
// --config file) and puts the URL policy and the htpasswd users in force.
func (o *serveOptions) reload(cmd *cobra.Command, g *globals, s *server.Server, cli map[string][]string) error {
	fresh := newServe(g)
	for name, values := range cli {
		for _, v := range values {
			if err := fresh.Flags().Set(name, v); err != nil {
				return err
			}
		}
	}
	if o.config != "" {
		if err := applyConfigFile(fresh, o.config); err != nil {
			return err
		}
	}
	o2 := fresh.Flags()
	var restart []string
	o2.VisitAll(func(f *pflag.Flag) {
		if !reloadable[f.Name] && cmd.Flags().Lookup(f.Name).Value.String() != f.Value.String() {
			restart = append(restart, "--"+f.Name)
		}
	})
	if len(restart) > 0 {
		g.logger.Warn("SIGHUP: these settings changed, but take effect only after a restart", "settings", strings.Join(restart, " "))
	}
	allow, _ := o2.GetStringArray("allow-url")
	deny, _ := o2.GetStringArray("deny-url")
	allowHTTP, _ := o2.GetBool("allow-http")
	allowPrivate, _ := o2.GetBool("allow-private-networks")
	nets, _ := o2.GetStringArray("allow-network")
	pol, err := policy.New(allow, deny, allowHTTP, allowPrivate, nets)
	if err != nil {
		return err
	}
	return s.Reload(pol)
}
