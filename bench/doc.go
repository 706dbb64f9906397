// Package bench holds fl's benchmarks: programs that compare fl side by
// side, in one run, with baselines on the same machine, and report ratios.
// They are run by hand or by bench/*.sh, never as timed unit tests. See
// docs/BENCHMARKS.md for the figures and how to reproduce them.
package bench
