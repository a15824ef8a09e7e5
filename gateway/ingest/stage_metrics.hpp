// Per-stage, per-sender outcomes and processing time of the pipeline's stages (conversion, care):
//   carebridge_pipeline_stage_outcomes_total{stage,sender,outcome}   outcome proceed|stop|error
//   carebridge_pipeline_stage_seconds{stage,sender}                  histogram of the stage's time
// The sender is the stored message's sender rule name ("(none)" without one): configured names
// only, so the label set stays bounded.
//
// One object per stage, used on the pipeline thread only (its series cache has no lock); the
// series themselves live in the registry.
#pragma once

#include "gateway/ingest/pipeline_worker.hpp"
#include "gateway/obs/metrics.hpp"

#include <chrono>
#include <map>
#include <string>
#include <string_view>

namespace carebridge::gateway::ingest {

class stage_metrics {
 public:
  stage_metrics(obs::registry& metrics, std::string stage);

  /// Counts one message's pass through the stage.
  void observe(std::string_view sender, stage_outcome::kind outcome, double seconds);

  /// Times a stage call: `timer t(m, sender); ... return t.done(outcome);`.
  class timer {
   public:
    timer(stage_metrics& m, std::string_view sender)
        : m_(m), sender_(sender), started_(std::chrono::steady_clock::now()) {}
    stage_outcome done(stage_outcome o) {
      m_.observe(
          sender_, o.what,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
      return o;
    }

   private:
    stage_metrics& m_;
    std::string_view sender_;
    std::chrono::steady_clock::time_point started_;
  };

 private:
  struct series {
    obs::counter* outcomes[3];  // proceed, stop, error
    obs::histogram* seconds;
  };
  std::string stage_;
  obs::registry::family<obs::counter>& outcomes_;
  obs::registry::family<obs::histogram>& seconds_;
  std::map<std::string, series, std::less<>> by_sender_;
};

}  // namespace carebridge::gateway::ingest
