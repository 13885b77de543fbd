#pragma once
/// @file
/// @brief The defect scenarios a Laue frame is classified into (see docs/science.md).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace laueproc {

enum class Scenario : std::int8_t {
  defect_free = 0,    ///< small round peaks
  gnd = 1,            ///< streaked peaks: geometrically necessary dislocations
  tilt_boundary = 2,  ///< every reflection split in two by a common vector
  mixed = 3,          ///< split and streaked
  stacking = 4,       ///< several close sub-peaks per reflection (stacked tilt boundaries)
  unknown = 5,        ///< too few peaks to judge, or the frame failed
};

inline constexpr std::array<std::string_view, 6> kScenarioNames = {
    "defect_free", "gnd", "tilt_boundary", "mixed", "stacking", "unknown"};

inline std::string_view to_string(Scenario s) {
  return kScenarioNames[static_cast<std::size_t>(s)];
}

inline std::optional<Scenario> scenario_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kScenarioNames.size(); ++i)
    if (kScenarioNames[i] == name) return static_cast<Scenario>(i);
  return std::nullopt;
}

}  // namespace laueproc
