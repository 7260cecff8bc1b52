// Teams of threads for the recurrences. A layer call opens ONE parallel region; its threads form
// one team per direction (both directions of a bidirectional layer run at once), and a team's
// threads split the hidden units between them, meeting at a barrier where a step needs another
// thread's results. No fork and join per time step, no allocation inside the loop.
//
// Included only by kernel files (compiled once per CPU capability).
#pragma once

#include "kernels/slicing.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace torch_ext::kernels {
namespace CPU_CAPABILITY {

// A contiguous share [begin, end) of `total` items for member `rank` of `size`.
struct Share {
  int64_t begin = 0;
  int64_t end = 0;
  bool empty() const { return begin >= end; }
};

inline Share share_of(int64_t total, int64_t rank, int64_t size) {
  const int64_t base = total / size;
  const int64_t extra = total % size;
  const int64_t begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// How many threads a recurrence can use: enough work per step for each (a barrier costs about a
// microsecond), and no more threads than blocks of hidden units.
inline int64_t useful_team_size(int64_t flops_per_step, int64_t unit_blocks) {
  constexpr int64_t kFlopsPerStepPerThread = int64_t(1) << 18;
  return std::clamp<int64_t>(flops_per_step / kFlopsPerStepPerThread, 1,
                             std::max<int64_t>(1, unit_blocks));
}

// A reusable barrier for the threads of one team. Waiting spins briefly (the team's threads run
// on their own cores), then yields. If any thread of the region failed, waiting returns at once
// so no thread is left behind.
class TeamBarrier {
 public:
  TeamBarrier(int64_t size, const std::atomic<bool>& failed) : size_(size), failed_(failed) {}

  void wait() {
    if (size_ <= 1) {
      return;
    }
    const int64_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == size_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    int64_t spins = 0;
    while (generation_.load(std::memory_order_acquire) == generation) {
      if (failed_.load(std::memory_order_relaxed)) {
        return;
      }
      if (++spins > kSpinsBeforeYield) {
        std::this_thread::yield();
      }
    }
  }

 private:
  static constexpr int64_t kSpinsBeforeYield = 1 << 14;
  const int64_t size_;
  const std::atomic<bool>& failed_;
  std::atomic<int64_t> arrived_{0};
  std::atomic<int64_t> generation_{0};
};

// One thread's view of its team.
class Team {
 public:
  Team(int64_t index, int64_t rank, int64_t size, TeamBarrier& barrier,
       const std::atomic<bool>& failed)
      : index_(index), rank_(rank), size_(size), barrier_(barrier), failed_(failed) {}

  int64_t index() const { return index_; }  // which team (direction)
  int64_t rank() const { return rank_; }
  int64_t size() const { return size_; }
  // This thread's share of `total` items.
  Share share(int64_t total) const { return share_of(total, rank_, size_); }
  void sync() const { barrier_.wait(); }
  // Another thread of the region failed: stop early (its exception is rethrown after the region).
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  int64_t index_;
  int64_t rank_;
  int64_t size_;
  TeamBarrier& barrier_;
  const std::atomic<bool>& failed_;
};

// Runs body(team) for `teams` teams in one parallel region. Each team gets up to
// `max_team_size` threads from torch.get_num_threads(); with fewer threads than teams, or less
// than kMinWorkPerTeamForThreads of `work_per_team`, the teams run one after another. The first
// exception thrown by any thread is rethrown here.
template <typename Body>
void run_teams(int64_t teams, int64_t max_team_size, int64_t work_per_team, const Body& body) {
  const int64_t available = at::in_parallel_region() || work_per_team < kMinWorkPerTeamForThreads
                                ? 1
                                : std::max<int64_t>(1, at::get_num_threads());
  const int64_t team_size =
      std::max<int64_t>(1, std::min(max_team_size, available / std::max<int64_t>(1, teams)));
  const int64_t concurrent_teams = std::min(teams, std::max<int64_t>(1, available / team_size));

  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto run_guarded = [&](const Team& team) {
    try {
      body(team);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) {
        error = std::current_exception();
      }
      failed.store(true);
    }
  };

  // Teams run in rounds of `concurrent_teams`, each round in one parallel region.
  for (int64_t first = 0; first < teams; first += concurrent_teams) {
    const int64_t round = std::min(concurrent_teams, teams - first);
    std::deque<TeamBarrier> barriers;  // barriers never move: a deque grows in place
    for (int64_t i = 0; i < round; ++i) {
      barriers.emplace_back(team_size, failed);
    }
    const int64_t threads = round * team_size;
    const auto run_thread = [&](int64_t thread) {
      const int64_t local_team = thread / team_size;
      run_guarded(Team(first + local_team, thread % team_size, team_size,
                       barriers[static_cast<size_t>(local_team)], failed));
    };
    // With fewer threads than asked for, the round's teams run one after another, one thread each.
    const auto run_round_on_one_thread = [&] {
      for (int64_t local_team = 0; local_team < round && !failed.load(); ++local_team) {
        TeamBarrier alone(1, failed);
        run_guarded(Team(first + local_team, 0, 1, alone, failed));
      }
    };
    if (threads == 1) {
      run_thread(0);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(threads))
      {
        const int64_t thread = omp_get_thread_num();
        if (omp_get_num_threads() == threads) {
          // Inside, BLAS runs single-threaded and at::parallel_for does not fork again.
          const at::internal::ThreadIdGuard thread_id_guard(static_cast<int>(thread));
          run_thread(thread);
        } else if (thread == 0) {
          run_round_on_one_thread();
        }
      }
#else
      run_round_on_one_thread();
#endif
    }
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

}  // namespace CPU_CAPABILITY
}  // namespace torch_ext::kernels
