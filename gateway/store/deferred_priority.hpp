// The CPU priority of deferred work: the store's indexer and the pipeline run after the ACK.
//
// Each such thread enrolls (enroll(nice), from the thread itself): it runs at nice +`nice`. While
// the ACK path is busy — the store's log thread calls busy() per batch, and idle() once it has had
// nothing to do for a moment — the enrolled threads also run under SCHED_IDLE: a waking ACK-path
// thread (an MLLP connection, the log thread after its fsync) then takes the CPU from them at once.
// Nice alone lets a running deferred thread keep the CPU for the rest of its protected slice
// (about 0.7 ms on Linux 6.x EEVDF): on one busy core, that is ACK latency. Once the ACK path is
// idle they go back to SCHED_OTHER, so that other processes on the host cannot starve them.
//
// Leaving SCHED_IDLE needs CAP_SYS_NICE or an RLIMIT_NICE that allows the thread's nice value
// (systemd: LimitNICE=10); without either, SCHED_IDLE is never used and nice alone applies.
//
// Process-wide (one ACK path per process); thread-safe.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <vector>

namespace carebridge::gateway::store::deferred_priority {

namespace detail {

struct state {
  std::mutex mu;
  std::vector<pid_t> threads;  // enrolled
  bool idle_class = false;     // they run under SCHED_IDLE now
  std::atomic<bool> busy{false};  // the ACK path's last word, read without the lock
  bool allowed = false;        // SCHED_IDLE can be left again (decided at the first enrol)
  bool decided = false;
};

inline state& the_state() {
  static state s;
  return s;
}

inline void apply(pid_t tid, bool idle_class) {
  const sched_param none{};
  sched_setscheduler(tid, idle_class ? SCHED_IDLE : SCHED_OTHER, &none);  // errors: left as is
}

}  // namespace detail

/// From a deferred thread, at its start: nice +`nice`, and SCHED_IDLE while the ACK path is busy.
inline void enroll(int nice) {
  const pid_t tid = gettid();
  if (nice != 0) {
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, 0);
    if (errno == 0) setpriority(PRIO_PROCESS, static_cast<id_t>(tid), current + nice);
  }
  auto& s = detail::the_state();
  std::lock_guard lock(s.mu);
  if (!s.decided) {
    s.decided = true;
    rlimit lim{};
    const int niceness = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    s.allowed = geteuid() == 0 || (getrlimit(RLIMIT_NICE, &lim) == 0 &&
                                   (lim.rlim_cur == RLIM_INFINITY ||
                                    static_cast<long>(lim.rlim_cur) >= 20 - niceness));
  }
  s.threads.push_back(tid);
  if (s.idle_class) detail::apply(tid, true);
}

/// From a thread that runs connections and submits to the store (once per thread): SCHED_BATCH.
/// Its wakeups (an ACK posted back, a packet) then do not preempt the store's log thread while it
/// runs a batch's completions: one switch per batch rather than one per message on a shared core.
/// It still preempts deferred work at once, and the log thread still preempts it.
inline void connection_thread() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  const sched_param none{};
  if (sched_getscheduler(0) == SCHED_OTHER) sched_setscheduler(0, SCHED_BATCH, &none);
}

/// From a deferred thread, before it ends.
inline void leave() {
  const pid_t tid = gettid();
  auto& s = detail::the_state();
  std::lock_guard lock(s.mu);
  s.threads.erase(std::remove(s.threads.begin(), s.threads.end(), tid), s.threads.end());
}

/// From the ACK path: busy (true) or idle for a moment (false). Cheap when nothing changes.
inline void ack_path(bool busy) {
  auto& s = detail::the_state();
  if (s.busy.load(std::memory_order_relaxed) == busy) return;
  s.busy.store(busy, std::memory_order_relaxed);
  std::lock_guard lock(s.mu);
  if (!s.allowed || s.idle_class == busy) return;
  s.idle_class = busy;
  for (const pid_t tid : s.threads) detail::apply(tid, busy);
}

}  // namespace carebridge::gateway::store::deferred_priority
