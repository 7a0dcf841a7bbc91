// SPDX-License-Identifier: MIT
// mb_shim.cc - Google Benchmark behind the C API of mb.h, and main() for mara-micro.
// Owns: nothing beyond Google Benchmark's registry (it copies the names).
// Thread: main thread only. The one C++ file of the project (the benchmark runner is C++).
#include "mb.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

static benchmark::internal::Benchmark *add(const char *name, mb_fn *fn, void *arg,
                                           double items_per_iter, double bytes_per_iter)
{
	auto body = [fn, arg, items_per_iter, bytes_per_iter](benchmark::State &st) {
		// One batch of max_iterations: the C body runs its own loop, so there is no
		// per-iteration call through the shim to measure.
		while (st.KeepRunningBatch(st.max_iterations))
			fn(arg, static_cast<uint64_t>(st.max_iterations));
		if (items_per_iter > 0)
			st.SetItemsProcessed(static_cast<int64_t>(
			    static_cast<double>(st.iterations()) * items_per_iter));
		if (bytes_per_iter > 0)
			st.SetBytesProcessed(static_cast<int64_t>(
			    static_cast<double>(st.iterations()) * bytes_per_iter));
	};
	return benchmark::RegisterBenchmark(name, body);
}

extern "C" void mb_register(const char *name, mb_fn *fn, void *arg, double items_per_iter,
                            double bytes_per_iter)
{
	add(name, fn, arg, items_per_iter, bytes_per_iter);
}

extern "C" void mb_register_wall(const char *name, mb_fn *fn, void *arg, double items_per_iter,
                                 double bytes_per_iter)
{
	add(name, fn, arg, items_per_iter, bytes_per_iter)->UseRealTime();
}

extern "C" void mb_context(const char *key, const char *value)
{
	benchmark::AddCustomContext(key, value);
}

int main(int argc, char **argv)
{
	int (*const inits[])(void) = {mb_sip_init, mb_dia_init, mb_auth_init, mb_ring_init};

	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	for (auto init : inits) {
		if (init() < 0) {
			std::fprintf(stderr, "mara-micro: benchmark set-up failed\n");
			return 1;
		}
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
