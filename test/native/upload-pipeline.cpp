// The upload pipeline of kernels/upload_pipeline.h against a fake copy engine, no GPU needed.
// test/upload-pipeline.test.ts builds this with ThreadSanitizer and runs it. The engine copies
// queued slots in order on its own thread after a random delay, so a slot refilled before its
// copy is over shows up as wrong bytes on the "device" (and as a race under ThreadSanitizer).
// Prints one line per failed check and "ok N cases" when all pass; exits 1 on any failure.
#include "upload_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_failures = 0;
int g_cases = 0;

#define CHECK(cond, ...)                          \
  do {                                            \
    if (!(cond)) {                                \
      ++g_failures;                               \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);                        \
      printf("\n");                               \
    }                                             \
  } while (0)

void pause_us(std::mt19937& rng, int max_us) {
  if (max_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % (unsigned)max_us));
}

// A copy engine: jobs run in queue order on one thread; job i completes when done >= i + 1.
class FakeDevice {
 public:
  // gap: bytes between neighbouring slots (a copy that runs over a slot's end then copies them)
  FakeDevice(size_t slot_bytes, int slots, uint8_t* dst, int max_delay_us, int fail_copy_at, size_t gap = 0)
      : stage_((slot_bytes + gap) * (size_t)slots, 0xA5), slot_bytes_(slot_bytes + gap), last_(slots, 0), dst_(dst),
        max_delay_us_(max_delay_us), fail_copy_at_(fail_copy_at), engine_([this] { engine(); }) {}
  ~FakeDevice() {
    {
      std::lock_guard<std::mutex> g(m_);
      quit_ = true;
    }
    cv_.notify_all();
    engine_.join();
  }

  // Ops
  uint8_t* slot(int s) { return stage_.data() + (size_t)s * slot_bytes_; }
  int copy(int s, uint64_t dst_offset, size_t n) {
    if (copies_ == fail_copy_at_) {
      recorded_ = "copy failed";
      return GG_ERR_RUNTIME;
    }
    ++copies_;
    std::lock_guard<std::mutex> g(m_);
    jobs_.push_back({slot(s), dst_offset, n});
    last_[s] = ++issued_;
    cv_.notify_all();
    return GG_OK;
  }
  int poll(int s, bool* idle) {
    std::lock_guard<std::mutex> g(m_);
    *idle = done_ >= last_[s];
    return GG_OK;
  }
  int wait(int s) {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return done_ >= last_[s]; });
    return GG_OK;
  }
  int fail_fill(const gg_pipe::FillError& e) {
    ++fill_failures_;
    recorded_ = e.text;
    if (e.sys_errno) recorded_ += std::string(": ") + strerror(e.sys_errno);
    return e.status;
  }

  // what the caller of run() does afterwards: wait for every queued copy
  void finish() {
    std::unique_lock<std::mutex> lk(m_);
    cv_.wait(lk, [&] { return done_ == issued_; });
  }

  std::string recorded_;
  int fill_failures_ = 0;

 private:
  struct Job {
    const uint8_t* src;
    uint64_t off;
    size_t n;
  };
  void engine() {
    std::mt19937 rng(7);
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      cv_.wait(lk, [&] { return quit_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      const Job j = jobs_.front();
      jobs_.pop_front();
      lk.unlock();
      pause_us(rng, max_delay_us_);
      memcpy(dst_ + j.off, j.src, j.n);
      lk.lock();
      ++done_;
      cv_.notify_all();
    }
  }

  std::vector<uint8_t> stage_;
  size_t slot_bytes_; /* stride: a slot and the gap after it */
  std::vector<uint64_t> last_;
  uint8_t* dst_;
  int max_delay_us_;
  int fail_copy_at_;
  int copies_ = 0;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  uint64_t issued_ = 0, done_ = 0;
  bool quit_ = false;
  std::thread engine_;
};

// A memory fill that sleeps at random (to shuffle the order pieces finish in) and can fail at
// one source offset.
struct SlowFill {
  const uint8_t* src;
  int max_delay_us;
  uint64_t fail_at;  // the piece holding this source offset fails; ~0: never
  int operator()(uint8_t* buf, uint64_t off, size_t n, gg_pipe::FillError* e) const {
    thread_local std::mt19937 rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
    pause_us(rng, max_delay_us);
    if (off <= fail_at && fail_at < off + n) {
      e->status = GG_ERR_IO;
      e->sys_errno = 0;
      snprintf(e->text, sizeof e->text, "injected failure at %llu", (unsigned long long)fail_at);
      return GG_ERR_IO;
    }
    return gg_pipe::MemoryFill{src}(buf, off, n, e);
  }
};

std::vector<uint8_t> pattern(size_t n, unsigned seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = (uint8_t)rng();
  return v;
}

void round_trip(uint64_t bytes, size_t piece, int slots, int threads, int fill_delay, int copy_delay, size_t gap = 0) {
  ++g_cases;
  const std::vector<uint8_t> src = pattern(bytes, (unsigned)(bytes * 31 + piece));
  std::vector<uint8_t> dst(bytes + 1, 0xEE);
  int st;
  {
    FakeDevice dev(piece, slots, dst.data(), copy_delay, -1, gap);
    st = gg_pipe::run(dev, SlowFill{src.data(), fill_delay, ~0ull}, bytes, gg_pipe::Plan{piece, slots, threads});
    dev.finish();
  }
  CHECK(st == GG_OK, "bytes %llu piece %zu slots %d threads %d gap %zu: status %d", (unsigned long long)bytes, piece,
        slots, threads, gap, st);
  CHECK(memcmp(src.data(), dst.data(), bytes) == 0 && dst[bytes] == 0xEE,
        "bytes %llu piece %zu slots %d threads %d gap %zu: device bytes differ", (unsigned long long)bytes, piece, slots,
        threads, gap);
}

void fill_failure(int threads, uint64_t fail_piece) {
  ++g_cases;
  const size_t piece = 4096;
  const uint64_t bytes = 64 * piece + 100;
  const std::vector<uint8_t> src = pattern(bytes, 3);
  std::vector<uint8_t> dst(bytes);
  FakeDevice dev(piece, 4, dst.data(), 20, -1);
  const int st = gg_pipe::run(dev, SlowFill{src.data(), 50, fail_piece * piece}, bytes, gg_pipe::Plan{piece, 4, threads});
  dev.finish();
  CHECK(st == GG_ERR_IO, "fill failure (threads %d): status %d", threads, st);
  CHECK(dev.fill_failures_ == 1, "fill failure (threads %d): recorded %d times", threads, dev.fill_failures_);
  char want[64];
  snprintf(want, sizeof want, "injected failure at %llu", (unsigned long long)(fail_piece * piece));
  CHECK(dev.recorded_ == want, "fill failure (threads %d): message \"%s\"", threads, dev.recorded_.c_str());
}

void copy_failure(int threads) {
  ++g_cases;
  const size_t piece = 4096;
  const uint64_t bytes = 40 * piece;
  const std::vector<uint8_t> src = pattern(bytes, 4);
  std::vector<uint8_t> dst(bytes);
  FakeDevice dev(piece, 8, dst.data(), 10, 5);
  const int st = gg_pipe::run(dev, SlowFill{src.data(), 10, ~0ull}, bytes, gg_pipe::Plan{piece, 8, threads});
  dev.finish();
  CHECK(st == GG_ERR_RUNTIME, "copy failure (threads %d): status %d", threads, st);
  CHECK(dev.fill_failures_ == 0 && dev.recorded_ == "copy failed", "copy failure (threads %d): recorded \"%s\"", threads,
        dev.recorded_.c_str());
}

void file_fill(int threads) {
  ++g_cases;
  char path[] = "/tmp/gg-upload-pipeline-XXXXXX";
  const int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp failed");
  if (fd < 0) return;
  unlink(path);
  const size_t piece = 8192;
  const uint64_t file_bytes = 50 * piece + 123;
  const std::vector<uint8_t> data = pattern(file_bytes, 5);
  CHECK(write(fd, data.data(), file_bytes) == (ssize_t)file_bytes, "write failed");
  // the whole file but its first 77 bytes
  {
    const uint64_t off = 77, bytes = file_bytes - off;
    std::vector<uint8_t> dst(bytes);
    FakeDevice dev(piece, 6, dst.data(), 5, -1);
    const int st = gg_pipe::run(dev, gg_pipe::FileFill{fd, off, bytes}, bytes, gg_pipe::Plan{piece, 6, threads});
    dev.finish();
    CHECK(st == GG_OK && memcmp(dst.data(), data.data() + off, bytes) == 0, "file (threads %d): status %d or bytes differ",
          threads, st);
  }
  // past the end: the message names the end of file and the requested range
  {
    const uint64_t off = 1000, bytes = file_bytes;
    std::vector<uint8_t> dst(bytes);
    FakeDevice dev(piece, 6, dst.data(), 5, -1);
    const int st = gg_pipe::run(dev, gg_pipe::FileFill{fd, off, bytes}, bytes, gg_pipe::Plan{piece, 6, threads});
    dev.finish();
    char want[96];
    snprintf(want, sizeof want, "the file is shorter than offset 1000 + %llu bytes", (unsigned long long)bytes);
    CHECK(st == GG_ERR_IO && dev.recorded_.find("hit end of file") != std::string::npos &&
              dev.recorded_.find(want) != std::string::npos,
          "file past its end (threads %d): status %d, \"%s\"", threads, st, dev.recorded_.c_str());
  }
  close(fd);
  // a closed descriptor: pread's errno comes back as text
  {
    std::vector<uint8_t> dst(3 * piece);
    FakeDevice dev(piece, 6, dst.data(), 5, -1);
    const int st = gg_pipe::run(dev, gg_pipe::FileFill{fd, 0, 3 * piece}, 3 * piece, gg_pipe::Plan{piece, 6, threads});
    dev.finish();
    CHECK(st == GG_ERR_IO && dev.recorded_.find("pread(fd") != std::string::npos &&
              dev.recorded_.find(strerror(EBADF)) != std::string::npos,
          "closed fd (threads %d): status %d, \"%s\"", threads, st, dev.recorded_.c_str());
  }
}

}  // namespace

int main() {
  const size_t piece = 4096;
  for (int threads : {1, 2, 3, 8}) {
    for (int slots : {1, 2, 3, 16}) {
      for (uint64_t bytes : {(uint64_t)1, (uint64_t)piece - 1, (uint64_t)piece, (uint64_t)piece + 1,
                             (uint64_t)(7 * piece + 5), (uint64_t)(100 * piece + 3)}) {
        round_trip(bytes, piece, slots, threads, 30, 30); // balanced
      }
      round_trip(60 * piece, piece, slots, threads, 200, 0);  // reading is the bottleneck
      round_trip(60 * piece, piece, slots, threads, 0, 200);  // copying is the bottleneck
      round_trip(60 * piece + 9, piece, slots, threads, 20, 20, 64);  // slots apart: no copy may span two
    }
    // byte counts that end inside the graded first round, or just past it (8 threads: 9 units of 512 bytes)
    for (uint64_t bytes : {(uint64_t)(2 * piece + 1), (uint64_t)(3 * piece), (uint64_t)(4 * piece + 7)})
      round_trip(bytes, piece, 16, threads, 20, 20);
    for (uint64_t fail_piece : {(uint64_t)0, (uint64_t)5, (uint64_t)64}) fill_failure(threads, fail_piece);
    copy_failure(threads);
    file_fill(threads);
  }
  round_trip(0, piece, 4, 8, 0, 0);
  for (int threads : {10, 16, 17}) round_trip(90 * piece + 11, piece, 16, threads, 20, 20);  // 17: more than the pool's 16
  round_trip(20 * 65536 + 3, 65536, 8, 8, 20, 20);       // ramp unit 8192: whole pages
  round_trip(13 * (1 << 20) + 5, 1 << 20, 32, 10, 0, 0);  // the real shape: 1 MiB pieces, 32 slots, groups capped at 4 MiB
  if (g_failures) {
    printf("%d of the checks failed\n", g_failures);
    return 1;
  }
  printf("ok %d cases\n", g_cases);
  return 0;
}
