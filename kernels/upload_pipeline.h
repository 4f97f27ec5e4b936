/* gguf-gpu: the host half of uploads (capi.cu's gg_upload and gg_upload_file). No CUDA in here:
 * the runtime comes in through an Ops object, so test/native/upload-pipeline.cpp runs this same
 * code against a fake copy engine under ThreadSanitizer, on machines without a GPU.
 *
 * The source is cut into pieces of plan.piece bytes (the first round graded, the last one shorter;
 * see run). Piece p goes into staging slot p % plan.slots; up to plan.threads worker threads fill
 * pieces in parallel (memcpy from host memory, or pread from a file), and the calling thread queues
 * the copies to the device in order, as soon as a group of neighbouring pieces (up to kCopyBytes)
 * is complete. A slot is refilled only once the copy that read it has finished, so reading runs up
 * to plan.slots pieces ahead of copying and several pieces are read at once. With fewer than two
 * pieces or threads the calling thread fills the pieces itself while earlier groups copy.
 *
 * The worker threads live in a pool started on first use and kept for the life of the process
 * (starting 16 threads per call cost a few hundred microseconds, a tenth of a 256 MiB step); a call
 * hands them its work and waits until each has let go of it before it returns. Only the calling
 * thread talks to the runtime. Workers touch nothing but their own piece and the shared counters
 * below, and report a failure as a FillError for the calling thread to record: the first failure,
 * of a fill or of a runtime call, is the one reported.
 */
#ifndef GG_UPLOAD_PIPELINE_H
#define GG_UPLOAD_PIPELINE_H

#include "gguf_gpu.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#if !defined(_WIN32)
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gg_pipe {

constexpr int kMaxThreads = 16;
constexpr int kMaxSlots = 512;
constexpr uint64_t kCopyBytes = 4 << 20; /* the most one copy to the device takes (see run) */

struct Plan {
  size_t piece; /* bytes per piece, at most a slot's capacity */
  int slots;    /* staging slots, 1 .. kMaxSlots */
  int threads;  /* worker threads at most (below 2: the calling thread fills) */
};

/* Threads kept between calls. run(n, job) hands job to n of them (starting threads as needed; fewer
 * if the system refuses more) and returns how many took it; wait() returns once each of those has
 * returned from it, so job may refer to the caller's stack. One caller at a time: a second one
 * blocks in run() until the first has waited. Threads are never stopped: the pool is leaked, and
 * process exit ends them wherever they wait. */
class WorkerPool {
 public:
  static WorkerPool& get() {
    static WorkerPool* pool = new WorkerPool;
    return *pool;
  }

  int run(int n, std::function<void()> job) {
    std::unique_lock<std::mutex> lk(m_);
    idle_.wait(lk, [&] { return !busy_; });
    busy_ = true;
    while ((int)threads_ < n) {
      try {
        std::thread(&WorkerPool::loop, this).detach();
        ++threads_;
      } catch (...) {
        break; /* out of threads: go on with those there are */
      }
    }
    job_ = std::move(job);
    wanted_ = n < (int)threads_ ? n : (int)threads_;
    taken_ = 0;
    running_ = 0;
    ++round_;
    work_.notify_all();
    return wanted_;
  }

  void wait() {
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [&] { return taken_ == wanted_ && running_ == 0; });
    job_ = nullptr;
    busy_ = false;
    idle_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lk(m_);
    uint64_t seen = 0; /* rounds count from 1: a new thread takes the round that started it */
    for (;;) {
      work_.wait(lk, [&] { return round_ != seen && taken_ < wanted_; });
      seen = round_;
      ++taken_;
      ++running_;
      lk.unlock();
      job_();
      lk.lock();
      if (--running_ == 0 && taken_ == wanted_) done_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable work_, done_, idle_;
  std::function<void()> job_;
  unsigned threads_ = 0;
  uint64_t round_ = 0;
  int wanted_ = 0, taken_ = 0, running_ = 0;
  bool busy_ = false;
};

/* A failed fill, described on the thread that failed and recorded by the calling thread. */
struct FillError {
  int status;    /* gg_status */
  int sys_errno; /* nonzero: the message goes on with ": strerror (errno N)" */
  char text[480];
};

/* Fill threads. Reading a file from the page cache is the slow part of a file upload: ~3.5-5 GB/s
 * per thread on the 16-core H100 host (GG_UPLOAD_TRACE), so the pipeline wants as many threads as
 * the machine can spare beside the calling thread and the driver's. There, 14 threads loaded the
 * bench's 177 MB file at 72-76% of the pinned bandwidth where 10 reached 56-61% (same runs), and a
 * 1 GiB file at 86-88% against 69-80% (scripts/upload-probe.js). */
constexpr int kDefaultThreads = 14;

/* Worker threads for a machine: all hardware threads up to 4 (as before; not measured on small
 * hosts), beyond that hardware threads - 2, at most kDefaultThreads. */
inline int default_threads() {
  const int hw = (int)std::thread::hardware_concurrency();
  if (hw <= 4) return hw < 1 ? 1 : hw;
  return hw - 2 < kDefaultThreads ? hw - 2 : kDefaultThreads;
}

/* Fill from host memory. (Streaming stores instead of memcpy measured the same on the H100 host:
 * 78-81% of pinned either way with 12 threads; see scripts/upload-probe.js.) */
struct MemoryFill {
  const uint8_t* src;
  int operator()(uint8_t* buf, uint64_t off, size_t n, FillError*) const {
    memcpy(buf, src + off, n);
    return GG_OK;
  }
};

#if !defined(_WIN32)
/* Fill from a file: bytes [file_offset + off, + n) with pread, retried on EINTR and short reads.
 * total is the whole call's byte count (for the message when the file ends early). */
struct FileFill {
  int fd;
  uint64_t file_offset;
  uint64_t total;
  int operator()(uint8_t* buf, uint64_t off, size_t n, FillError* e) const {
    size_t got = 0;
    while (got < n) {
      const uint64_t at = file_offset + off + got;
      const ssize_t r = pread(fd, buf + got, n - got, (off_t)at);
      if (r < 0) {
        if (errno == EINTR) continue;
        e->status = GG_ERR_IO;
        e->sys_errno = errno;
        snprintf(e->text, sizeof e->text, "pread(fd %d, %zu bytes at offset %llu) failed", fd, n - got,
                 (unsigned long long)at);
        return GG_ERR_IO;
      }
      if (r == 0) {
        e->status = GG_ERR_IO;
        e->sys_errno = 0;
        snprintf(e->text, sizeof e->text,
                 "pread(fd %d, %zu bytes at offset %llu) hit end of file: the file is shorter than offset %llu + "
                 "%llu bytes",
                 fd, n - got, (unsigned long long)at, (unsigned long long)file_offset, (unsigned long long)total);
        return GG_ERR_IO;
      }
      got += (size_t)r;
    }
    return GG_OK;
  }
};
#endif

/* Waits until done() holds: spins briefly, then yields, then naps. The waits are short in a
 * running pipeline (a 1 MiB piece copies in ~20 us), so workers and the calling thread share
 * atomics instead of a lock and condition variables per piece (the two measured the same on the
 * H100 host; scripts/upload-probe.js). */
template <class Done>
void wait_until(const Done& done) {
  for (unsigned i = 0; !done(); ++i) {
    if (i < 256) continue;
    if (i < 4096) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

/* Runs the pipeline over `bytes` source bytes. Ops, called on the calling thread only, each
 * returning a gg_status and recording its own failure:
 *   uint8_t* slot(int s)                            host address of staging slot s
 *   int copy(int s, uint64_t dst_offset, size_t n)  queue n bytes from slot s on (the slots after it
 *                                                   when n is longer) -> device [dst_offset, + n)
 *   int poll(int s, bool* idle)                     whether slot s's last queued copy is over
 *   int wait(int s)                                 block until it is
 *   int fail_fill(const FillError& e)               record a fill failure, return e.status
 * Fill, called on any thread: int fill(uint8_t* buf, uint64_t src_offset, size_t n, FillError* e).
 * On return, copies may still be queued (also after a failure): the caller waits for them. */
template <class Ops, class Fill>
int run(Ops& ops, const Fill& fill, uint64_t bytes, const Plan& plan) {
  if (bytes == 0) return GG_OK;
  if (plan.piece == 0 || plan.slots < 1 || plan.slots > kMaxSlots) {
    FillError e = {GG_ERR_INVALID_ARGUMENT, 0, {0}};
    snprintf(e.text, sizeof e.text, "upload pipeline: bad plan (piece %zu bytes, %d slots)", plan.piece, plan.slots);
    return ops.fail_fill(e);
  }
  const uint64_t piece = plan.piece;
  const uint64_t slots = (uint64_t)plan.slots;
  /* The first round is graded: with R fill threads, pieces 0 .. R-1 hold 1/R, 2/R, .. of a piece.
   * Equal pieces kept the threads in step: each round's R pieces completed together, the copy
   * engine idled while they filled and the last round's copies came after every fill was over
   * (~0.2 ms of a 4 ms call). Graded, the first copy starts after a short fill and the rounds
   * stay staggered to the end. */
  uint64_t ramp = plan.threads >= 2 && bytes > 2 * piece ? (uint64_t)(plan.threads < kMaxThreads ? plan.threads : kMaxThreads) : 0;
  uint64_t unit = ramp ? piece / ramp : 0;
  if (unit >= 4096) unit -= unit % 4096; /* whole pages */
  if (unit == 0) ramp = 0;
  const uint64_t ramp_bytes = unit * ramp * (ramp + 1) / 2;
  auto begin = [&](uint64_t p) { return p < ramp ? unit * p * (p + 1) / 2 : ramp_bytes + (p - ramp) * piece; };
  uint64_t n_pieces = ramp + (bytes > ramp_bytes ? (bytes - ramp_bytes + piece - 1) / piece : 0);
  while (n_pieces > 1 && begin(n_pieces - 1) >= bytes) --n_pieces; /* bytes within the ramp */
  auto len = [&](uint64_t p) { return (size_t)((p + 1 < n_pieces ? begin(p + 1) : bytes) - begin(p)); };
  uint8_t* addr[kMaxSlots];
  for (int s = 0; s < plan.slots; ++s) addr[s] = ops.slot(s);

  /* Workers and the calling thread meet only through these atomics (no lock per piece). */
  struct Shared {
    std::atomic<uint64_t> next{0};     /* next piece to claim */
    std::atomic<uint64_t> released{0}; /* pieces [0, released) have copied: piece p may be filled once p < released + slots */
    std::atomic<uint64_t> filled[kMaxSlots]; /* per slot: 1 + the last piece filled into it */
    std::atomic<bool> stop{false};     /* a failure, on either side: everybody leaves */
    std::atomic<bool> worker_failed{false};
    FillError err; /* written once, by the worker that set worker_failed, before it sets stop */
  } sh;
  for (int s = 0; s < plan.slots; ++s) sh.filled[s].store(0, std::memory_order_relaxed);

  auto worker = [&] {
    for (;;) {
      const uint64_t p = sh.next.fetch_add(1, std::memory_order_relaxed);
      if (p >= n_pieces) return;
      wait_until([&] { return sh.stop.load(std::memory_order_acquire) || p < sh.released.load(std::memory_order_acquire) + slots; });
      if (sh.stop.load(std::memory_order_acquire)) return;
      FillError e{};
      const int st = fill(addr[p % slots], begin(p), len(p), &e);
      if (st != GG_OK) {
        bool expected = false;
        if (sh.worker_failed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
          sh.err = e;
          sh.err.status = st;
        }
        sh.stop.store(true, std::memory_order_release);
        return;
      }
      sh.filled[p % slots].store(p + 1, std::memory_order_release);
    }
  };

  uint64_t want = n_pieces < (uint64_t)plan.threads ? n_pieces : (uint64_t)plan.threads;
  if (want > (uint64_t)kMaxThreads) want = kMaxThreads;
  if (want < 2) want = 0;
  WorkerPool* pool = want ? &WorkerPool::get() : nullptr;
  const int started = pool ? pool->run((int)want, worker) : 0;
  if (pool && started == 0) pool->wait(); /* no thread to be had: fill here */

  /* Copies go out in groups of up to kCopyBytes: neighbouring pieces in neighbouring slots are
   * one copy. 1 MiB copies ran at 48 GB/s where 4 MiB ones ran at 53 on the H100 host, and the
   * pipeline is short of neither slots nor fill threads for it (a group is at most half the slots). */
  uint64_t group = kCopyBytes / piece;
  if (group > slots / 2) group = slots / 2;
  if (group < 1) group = 1;
  int cover[kMaxSlots]; /* per slot: the slot whose copy event says the slot's piece has copied */

  int st = GG_OK;
  uint64_t released = 0; /* this thread's copy of sh.released */
  uint64_t copied = 0;   /* pieces [0, copied) are queued for copying; [copied, q] wait for their group */
  for (uint64_t q = 0; q < n_pieces; ++q) {
    const int s = (int)(q % slots);
    while (st == GG_OK && q >= released + slots) { /* slot s still holds piece q - slots, maybe not yet copied */
      st = ops.wait(cover[released % slots]);
      if (st == GG_OK) sh.released.store(++released, std::memory_order_release);
    }
    if (st != GG_OK) break;
    if (started == 0) {
      FillError e{};
      const int fst = fill(addr[s], begin(q), len(q), &e);
      if (fst != GG_OK) {
        e.status = fst;
        st = ops.fail_fill(e);
        break;
      }
    } else {
      wait_until([&] { return sh.stop.load(std::memory_order_acquire) || sh.filled[s].load(std::memory_order_acquire) == q + 1; });
      if (sh.filled[s].load(std::memory_order_acquire) != q + 1) break; /* a worker failed */
    }
    const bool joins_next = q + 1 < n_pieces && (q + 1 - copied) < group && addr[s] + len(q) == addr[(q + 1) % slots];
    if (joins_next) continue;
    const int first = (int)(copied % slots);
    if ((st = ops.copy(first, begin(copied), (size_t)(begin(q) + len(q) - begin(copied)))) != GG_OK) break;
    for (; copied <= q; ++copied) cover[copied % slots] = first;
    if (started) { /* free the slots whose copies are over, without blocking */
      bool idle = true;
      while (released < copied && idle) {
        if ((st = ops.poll(cover[released % slots], &idle)) != GG_OK) break;
        if (idle) sh.released.store(++released, std::memory_order_release);
      }
      if (st != GG_OK) break;
    }
  }

  if (started) {
    sh.stop.store(true, std::memory_order_release);
    pool->wait();
    /* a worker's failure is the error only if this thread had none of its own (it has already
     * recorded that one, and a worker may have failed after it) */
    if (st == GG_OK && sh.worker_failed.load(std::memory_order_acquire)) st = ops.fail_fill(sh.err);
  }
  return st;
}

}  // namespace gg_pipe

#endif /* GG_UPLOAD_PIPELINE_H */
