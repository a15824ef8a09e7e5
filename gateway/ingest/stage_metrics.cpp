#include "gateway/ingest/stage_metrics.hpp"

namespace carebridge::gateway::ingest {

stage_metrics::stage_metrics(obs::registry& metrics, std::string stage)
    : stage_(std::move(stage)),
      outcomes_(metrics.counters("carebridge_pipeline_stage_outcomes_total",
                                 "Messages through a pipeline stage, by stage, sender and outcome "
                                 "(proceed, stop, error)")),
      seconds_(metrics.histograms("carebridge_pipeline_stage_seconds",
                                  "Processing time of a pipeline stage per message, by stage and "
                                  "sender",
                                  obs::latency_bounds())) {}

void stage_metrics::observe(std::string_view sender, stage_outcome::kind outcome, double seconds) {
  if (sender.empty()) sender = "(none)";
  auto it = by_sender_.find(sender);
  if (it == by_sender_.end()) {
    series s{};
    static constexpr std::string_view names[3] = {"proceed", "stop", "error"};
    for (std::size_t i = 0; i < 3; ++i)
      s.outcomes[i] = &outcomes_.series(
          obs::labels({{"stage", stage_}, {"sender", sender}, {"outcome", names[i]}}));
    s.seconds = &seconds_.series(obs::labels({{"stage", stage_}, {"sender", sender}}));
    it = by_sender_.emplace(std::string(sender), s).first;
  }
  it->second.outcomes[static_cast<std::size_t>(outcome) % 3]->inc();
  it->second.seconds->observe(seconds);
}

}  // namespace carebridge::gateway::ingest
