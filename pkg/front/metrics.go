package front

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/foreignlayers/fl/pkg/store"
)

// metrics are the front's Prometheus collectors.
type metrics struct {
	requests      *prometheus.CounterVec
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	fetches       *prometheus.CounterVec
	upstreamBytes prometheus.Counter
	joins         prometheus.Counter
	servedBytes   *prometheus.CounterVec
	redirects     prometheus.Counter
	refusals      *prometheus.CounterVec
	inflight      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, cache store.Cache) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fl_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fl_cache_hits_total", Help: "Foreign blob requests served from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fl_cache_misses_total", Help: "Foreign blob requests that were not in the cache.",
		}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fl_upstream_fetches_total", Help: "Fetches of foreign blobs from their URLs, by outcome (ok, mismatch, error).",
		}, []string{"outcome"}),
		upstreamBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fl_upstream_bytes_total", Help: "Bytes read from foreign blob URLs.",
		}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fl_singleflight_joins_total", Help: "Requests that joined a fetch already in flight instead of starting one.",
		}),
		servedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fl_served_bytes_total", Help: "Foreign blob bytes sent to clients, by source (cache, flight).",
		}, []string{"source"}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fl_redirects_total", Help: "Foreign blob requests answered with a redirect to a URL.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fl_policy_refusals_total", Help: "URLs refused by the URL policy, by where (put, fetch, redirect).",
		}, []string{"where"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fl_upstream_fetches_in_flight", Help: "Fetches of foreign blobs in progress.",
		}),
	}
	stat := func(f func(store.Stats) float64) func() float64 {
		return func() float64 { return f(cache.Stats()) }
	}
	cacheBytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fl_cache_bytes", Help: "Bytes of verified foreign blobs in the cache.",
	}, stat(func(s store.Stats) float64 { return float64(s.Bytes) }))
	cacheBlobs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fl_cache_blobs", Help: "Verified foreign blobs in the cache.",
	}, stat(func(s store.Stats) float64 { return float64(s.Blobs) }))
	cacheMax := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fl_cache_max_bytes", Help: "The cache's capacity (--cache-max-size).",
	}, stat(func(s store.Stats) float64 { return float64(s.Max) }))
	evictions := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "fl_cache_evictions_total", Help: "Blobs evicted from the cache, least recently used first.",
	}, stat(func(s store.Stats) float64 { return float64(s.Evicted) }))
	for _, c := range []prometheus.Collector{cacheBytes, cacheBlobs, cacheMax, evictions, m.requests, m.cacheHits, m.cacheMisses, m.fetches, m.upstreamBytes, m.joins, m.servedBytes, m.redirects, m.refusals, m.inflight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
