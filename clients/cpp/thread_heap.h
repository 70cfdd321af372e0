// The calling thread's own malloc heap, made now rather than by its first allocation.
//
//   void Client::watch() {
//     make_thread_heap();  // before the first restore, not during it
//     ...
//   }
#pragma once

namespace snapbus {

// glibc gives a thread its own heap (an arena) on the thread's first allocation: an mmap of 64 MB
// of address space, a munmap of the part that is not aligned, an mprotect and a fresh zeroed page.
// A watcher thread that allocates nothing until the first after-restore pays that there, in every
// process at once. On a 2-vCPU VM with 16 workers that tripled the time until every hook was acked
// (1.68 ms against 0.51 ms, benchmarks/adapter_bench.cpp, BM_RestoreThroughAdapter). An arena that
// another thread left behind is reused instead, which is cheap either way.
void make_thread_heap() noexcept;

}  // namespace snapbus
