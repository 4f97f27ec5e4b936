/* gguf-gpu: the host half of uploads (capi.cu's gg_upload and gg_upload_file). No CUDA in here:
 * the runtime comes in through an Ops object, so test/native/upload-pipeline.cpp runs this same
 * code against a fake copy engine under ThreadSanitizer, on machines without a GPU.
 *
 * The source is cut into pieces of plan.piece bytes (the last one shorter). Piece p goes into
 * staging slot p % plan.slots; up to plan.threads worker threads fill pieces in parallel (memcpy
 * from host memory, or pread from a file), and the calling thread queues each piece's copy to the
 * device as soon as it is complete, in order. A slot is refilled only once its previous copy has
 * finished, so reading runs up to plan.slots pieces ahead of copying and several pieces are read
 * at once. With fewer than two pieces or threads the calling thread fills each piece itself while
 * the previous one copies.
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

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gg_pipe {

constexpr int kMaxThreads = 16;
constexpr int kMaxSlots = 512;

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

/* On the 16-core H100 host, fills from memory or the page cache reached 69-76% of the pinned
 * bandwidth with 8 threads, 78-82% with 12 and 69-75% with 16 (scripts/upload-probe.js). */
constexpr int kDefaultThreads = 12;

/* Worker threads for a machine: min(kDefaultThreads, hardware threads). */
inline int default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : (hw < (unsigned)kDefaultThreads ? (int)hw : kDefaultThreads);
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

/* Runs the pipeline over `bytes` source bytes. Ops, called on the calling thread only, each
 * returning a gg_status and recording its own failure:
 *   uint8_t* slot(int s)                            host address of staging slot s
 *   int copy(int s, uint64_t dst_offset, size_t n)  queue slot s -> device [dst_offset, + n)
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
  const uint64_t n_pieces = (bytes + piece - 1) / piece;
  auto len = [&](uint64_t p) { return (size_t)(p + 1 < n_pieces ? piece : bytes - p * piece); };
  uint8_t* addr[kMaxSlots];
  for (int s = 0; s < plan.slots; ++s) addr[s] = ops.slot(s);

  enum { kNobody = 0, kWorker = 1, kCaller = 2 };
  struct Shared {
    std::mutex m;
    std::condition_variable work;  /* to workers: a slot was released, or stop */
    std::condition_variable ready; /* to the calling thread: a piece was filled, or a worker failed */
    uint64_t next = 0;             /* next piece to claim */
    uint64_t allowed = 0;          /* pieces below this may be filled (their slots are free) */
    uint64_t filled[kMaxSlots];    /* per slot: 1 + the last piece filled into it */
    bool stop = false;
    int failed_by = kNobody;
    FillError err;
  } sh;
  for (int s = 0; s < plan.slots; ++s) sh.filled[s] = 0;
  sh.allowed = n_pieces < slots ? n_pieces : slots;

  auto worker = [&] {
    std::unique_lock<std::mutex> lk(sh.m);
    for (;;) {
      sh.work.wait(lk, [&] { return sh.stop || (sh.next < n_pieces && sh.next < sh.allowed); });
      if (sh.stop) return;
      const uint64_t p = sh.next++;
      lk.unlock();
      FillError e{};
      const int st = fill(addr[p % slots], p * piece, len(p), &e);
      lk.lock();
      if (st != GG_OK) {
        if (sh.failed_by == kNobody) {
          sh.failed_by = kWorker;
          sh.err = e;
          sh.err.status = st;
        }
        sh.stop = true;
        sh.work.notify_all();
        sh.ready.notify_one();
        return;
      }
      sh.filled[p % slots] = p + 1;
      sh.ready.notify_one();
    }
  };

  uint64_t want = n_pieces < (uint64_t)plan.threads ? n_pieces : (uint64_t)plan.threads;
  if (want > (uint64_t)kMaxThreads) want = kMaxThreads;
  if (want < 2) want = 0;
  WorkerPool* pool = want ? &WorkerPool::get() : nullptr;
  const int started = pool ? pool->run((int)want, worker) : 0;
  if (pool && started == 0) pool->wait(); /* no thread to be had: fill here */

  auto allow = [&](uint64_t released) {
    const uint64_t a = released + slots < n_pieces ? released + slots : n_pieces;
    {
      std::lock_guard<std::mutex> g(sh.m);
      sh.allowed = a;
    }
    sh.work.notify_all();
  };

  int st = GG_OK;
  uint64_t released = 0; /* pieces [0, released) have finished copying: their slots are free */
  for (uint64_t q = 0; q < n_pieces; ++q) {
    const int s = (int)(q % slots);
    if (q >= released + slots) { /* slot s still holds piece q - slots, maybe not yet copied */
      while (st == GG_OK && q >= released + slots) {
        st = ops.wait((int)(released % slots));
        if (st == GG_OK) ++released;
      }
      if (st != GG_OK) break;
      if (started) allow(released);
    }
    if (started == 0) {
      FillError e{};
      const int fst = fill(addr[s], q * piece, len(q), &e);
      if (fst != GG_OK) {
        e.status = fst;
        st = ops.fail_fill(e);
        break;
      }
    } else {
      std::unique_lock<std::mutex> lk(sh.m);
      sh.ready.wait(lk, [&] { return sh.failed_by != kNobody || sh.filled[s] == q + 1; });
      if (sh.failed_by != kNobody) break;
    }
    if ((st = ops.copy(s, q * piece, len(q))) != GG_OK) break;
    if (started) { /* free the slots whose copies are over, without blocking */
      const uint64_t before = released;
      bool idle = true;
      while (released < q && idle) {
        if ((st = ops.poll((int)(released % slots), &idle)) != GG_OK) break;
        if (idle) ++released;
      }
      if (st != GG_OK) break;
      if (released != before) allow(released);
    }
  }

  if (started) {
    {
      std::lock_guard<std::mutex> g(sh.m);
      if (st != GG_OK && sh.failed_by == kNobody) sh.failed_by = kCaller;
      sh.stop = true;
    }
    sh.work.notify_all();
    pool->wait();
    /* a worker's failure is the error only if this thread had none of its own (it has already
     * recorded that one, and a worker may have failed after it, before the stop) */
    if (st == GG_OK && sh.failed_by == kWorker) st = ops.fail_fill(sh.err);
  }
  return st;
}

}  // namespace gg_pipe

#endif /* GG_UPLOAD_PIPELINE_H */
